//! A request's `Filter` (or `DeleteTabularFilter`) as a WHERE clause over a data table, inside
//! what the caller may touch. Capture times filter on `time_requested`.

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::{Access, Where};
use crate::proto::viam::app::data::v1::{DeleteTabularFilter, Filter, TagsFilter, TagsFilterType};
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::from_ts;

/// Which table a filter applies to: binary data has MIME types and bounding boxes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Readings,
    Binary,
}

/// Refuses a named resource that does not exist or lies in an organization where the caller
/// holds no grant allowing `perm` (its data could never be touched, and answering "none"
/// would hide the mistake).
fn check_named(access: &Access, perm: Perm, scope: ApiResult<Scope>) -> ApiResult<()> {
    let scope = scope?;
    access.require_in(perm, &scope.org_id, &scope.what)
}

fn check_ids(c: &Connection, access: &Access, perm: Perm, f: &Filter) -> ApiResult<()> {
    for o in &f.organization_ids {
        check_named(access, perm, Scope::organization(c, o))?;
    }
    for l in &f.location_ids {
        check_named(access, perm, Scope::location(c, l))?;
    }
    if !f.robot_id.is_empty() {
        check_named(access, perm, Scope::robot(c, &f.robot_id))?;
    }
    if !f.part_id.is_empty() {
        check_named(access, perm, Scope::part(c, &f.part_id))?;
    }
    Ok(())
}

/// The WHERE clause of `filter` (absent: everything visible) for `perm` over `table`.
pub fn clause(
    c: &Connection,
    who: &Principal,
    perm: Perm,
    filter: Option<&Filter>,
    table: Table,
) -> ApiResult<Where> {
    let access = Access::of(c, who, perm)?.require_some(perm, "any data")?;
    let mut w = Where::new(&access);
    let Some(f) = filter else {
        return Ok(w);
    };
    check_ids(c, &access, perm, f)?;
    if !f.dataset_id.is_empty() {
        let d = super::datasets::usable(c, who, perm, "filter.dataset_id", &f.dataset_id)?;
        match table {
            Table::Binary => w.push(
                "id IN (SELECT binary_id FROM dataset_binary WHERE dataset_id = ?)",
                [Sql::Text(d.id)],
            ),
            // A dataset holds binary data only: no reading is in one.
            Table::Readings => w.push("0", []),
        }
    }
    w.eq("component_name", &f.component_name);
    w.eq("component_type", &f.component_type);
    w.eq("method_name", &f.method);
    w.eq("robot_name", &f.robot_name);
    w.eq("robot_id", &f.robot_id);
    w.eq("part_name", &f.part_name);
    w.eq("part_id", &f.part_id);
    w.any_of("location_id", &f.location_ids);
    w.any_of("org_id", &f.organization_ids);
    if let Some(i) = &f.interval {
        if let Some(s) = &i.start {
            w.push("time_requested >= ?", [Sql::Integer(from_ts(s))]);
        }
        if let Some(e) = &i.end {
            w.push("time_requested <= ?", [Sql::Integer(from_ts(e))]);
        }
    }
    tags(&mut w, f.tags_filter.as_ref())?;
    match table {
        Table::Binary => {
            w.any_of("mime_type", &f.mime_type);
            if !f.bbox_labels.is_empty() {
                w.push(
                    "EXISTS (SELECT 1 FROM data_bboxes b WHERE b.binary_id = data_binary.id \
                     AND b.label IN (SELECT value FROM json_each(?)))",
                    [super::json_list(&f.bbox_labels)],
                );
            }
        }
        // Readings have neither: a filter on them matches no reading, as upstream.
        Table::Readings => {
            if !f.mime_type.is_empty() || !f.bbox_labels.is_empty() {
                w.push("0", []);
            }
        }
    }
    Ok(w)
}

fn tags(w: &mut Where, t: Option<&TagsFilter>) -> ApiResult<()> {
    let Some(t) = t else { return Ok(()) };
    match TagsFilterType::try_from(t.r#type) {
        Ok(TagsFilterType::Unspecified | TagsFilterType::MatchByOr) if !t.tags.is_empty() => {
            w.push(
                "EXISTS (SELECT 1 FROM json_each(tags) WHERE value IN (SELECT value FROM json_each(?)))",
                [super::json_list(&t.tags)],
            );
        }
        Ok(TagsFilterType::Unspecified | TagsFilterType::MatchByOr) => {}
        Ok(TagsFilterType::Tagged) => w.push("json_array_length(tags) > 0", []),
        Ok(TagsFilterType::Untagged) => w.push("json_array_length(tags) = 0", []),
        Err(_) => {
            return Err(ApiError::invalid(
                "tags_filter.type",
                format!("unknown tags filter type {}", t.r#type),
            ));
        }
    }
    Ok(())
}

/// DeleteTabularData's filter as the general one (same fields, fewer of them).
pub fn from_delete(org_id: &str, f: Option<DeleteTabularFilter>) -> Filter {
    let f = f.unwrap_or_default();
    Filter {
        organization_ids: vec![org_id.to_string()],
        location_ids: f.location_ids,
        robot_id: f.robot_id,
        part_id: f.part_id,
        component_type: f.component_type,
        component_name: f.component_name,
        method: f.method,
        tags_filter: f.tags_filter,
        ..Filter::default()
    }
}

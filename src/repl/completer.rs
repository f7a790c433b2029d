//! Tab completion of globals and of the fields of tables reachable through `a.b.c` / `a:b`
//! paths. It only reads raw fields and follows `__index` tables, so completing never calls a
//! function or a metamethod.

use mlua::{Lua, Table, Value};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::printer::is_identifier;

/// `__index` tables followed at most this deep (a class hierarchy, not a cycle).
const MAX_INDEX_CHAIN: usize = 8;

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// The rustyline helper of the REPL: completion only; hints, highlighting and validation stay off.
pub struct LuaHelper {
    lua: Lua,
}

impl LuaHelper {
    pub fn new(lua: &Lua) -> Self {
        LuaHelper { lua: lua.clone() }
    }
}

impl Completer for LuaHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, names) = candidates(&self.lua, line.get(..pos).unwrap_or(line));
        Ok((
            start,
            names
                .into_iter()
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: n,
                })
                .collect(),
        ))
    }
}

impl Hinter for LuaHelper {
    type Hint = String;
}
impl Highlighter for LuaHelper {}
impl Validator for LuaHelper {}
impl Helper for LuaHelper {}

/// Completions of the word that ends `before_cursor`: the byte offset where the replaced part
/// starts and the sorted candidates.
pub fn candidates(lua: &Lua, before_cursor: &str) -> (usize, Vec<String>) {
    let word_start = before_cursor
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c == '_' || c == '.' || c == ':' || c.is_ascii_alphanumeric())
        .last()
        .map_or(before_cursor.len(), |(i, _)| i);
    let word = &before_cursor[word_start..];
    if word.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ':')
        || in_string(&before_cursor[..word_start])
    {
        return (before_cursor.len(), Vec::new());
    }
    let Some(sep) = word.rfind(['.', ':']) else {
        let mut names = fields(&lua.globals(), word, false);
        names.extend(
            KEYWORDS
                .iter()
                .filter(|k| k.starts_with(word))
                .map(|k| k.to_string()),
        );
        names.sort();
        names.dedup();
        return (word_start, names);
    };
    let (path, prefix) = (&word[..sep], &word[sep + 1..]);
    let methods_only = word[sep..].starts_with(':');
    let names = resolve(lua, path)
        .map(|t| fields(&t, prefix, methods_only))
        .unwrap_or_default();
    (word_start + sep + 1, names)
}

/// The table a dotted path names, read without side effects.
fn resolve(lua: &Lua, path: &str) -> Option<Table> {
    let mut table = lua.globals();
    for segment in path.split(['.', ':']) {
        match raw_index(&table, segment) {
            Some(Value::Table(t)) => table = t,
            _ => return None,
        }
    }
    Some(table)
}

/// The names `cloud` (or one of its area tables) lists through its own `_functions`, the
/// functions made from the schema included, which exist only once first read. That listing is
/// fleetsh's, not the user's, so calling it has no side effect.
fn listed(t: &Table) -> Vec<String> {
    match t.raw_get::<Value>("_functions") {
        Ok(Value::Function(f)) => f.call::<Vec<String>>(()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `t[key]` through raw gets and `__index` tables only (and `cloud`'s own listing, whose
/// entries its `__index` makes).
fn raw_index(t: &Table, key: &str) -> Option<Value> {
    if t.raw_get::<Value>(key).is_ok_and(|v| v.is_nil()) && listed(t).iter().any(|n| n == key) {
        return t.get::<Value>(key).ok();
    }
    let mut current = t.clone();
    for _ in 0..MAX_INDEX_CHAIN {
        match current.raw_get::<Value>(key) {
            Ok(Value::Nil) | Err(_) => {}
            Ok(v) => return Some(v),
        }
        current = index_table(&current)?;
    }
    None
}

fn index_table(t: &Table) -> Option<Table> {
    match t.metatable()?.raw_get::<Value>("__index") {
        Ok(Value::Table(next)) => Some(next),
        _ => None,
    }
}

/// Identifier keys of `t` (and of its `__index` tables) that start with `prefix`, sorted.
fn fields(t: &Table, prefix: &str, methods_only: bool) -> Vec<String> {
    let mut names: Vec<String> = listed(t)
        .into_iter()
        .filter(|n| n.starts_with(prefix) && !methods_only)
        .collect();
    let mut current = Some(t.clone());
    for _ in 0..MAX_INDEX_CHAIN {
        let Some(table) = current else { break };
        for (k, v) in table.pairs::<Value, Value>().filter_map(Result::ok) {
            let Value::String(k) = k else { continue };
            let Ok(name) = k.to_str() else { continue };
            if name.starts_with(prefix)
                && is_identifier(&name)
                && (!methods_only || v.is_function())
            {
                names.push(name.to_string());
            }
        }
        current = index_table(&table);
    }
    names.sort();
    names.dedup();
    names
}

/// Whether the text ends inside a quoted string (so a word there is not code).
fn in_string(text: &str) -> bool {
    let mut quote = None;
    let mut escaped = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            _ => {}
        }
    }
    quote.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.load(
            r#"
            cloud = { get_robot = function() end, get_robot_part = function() end,
                      get_robot_parts = function() end, list_locations = function() end,
                      __help = {}, ["not ident"] = 1 }
            myrobot = { id = "r1", name = "rover", location = { id = "l1", name = "lab" } }
            local Class = { greet = function(self) end, kind = "class" }
            obj = setmetatable({ field = 1 }, { __index = Class })
            trap = setmetatable({}, { __index = function() error("side effect") end })
            "#,
        )
        .exec()
        .expect("fixture");
        lua
    }

    #[test]
    fn completes_the_functions_cloud_lists_before_they_exist() {
        let lua = lua();
        lua.load(
            r#"local made = { area = {} }
               setmetatable(cloud, { __index = function(_, k) return made[k] end })
               cloud._functions = function() return { "area", "get_robot", "list_machine_summaries" } end
               made.area._functions = function() return { "needs_restart" } end"#,
        )
        .exec()
        .unwrap();
        let (_, names) = candidates(&lua, "cloud.list_m");
        assert_eq!(names, ["list_machine_summaries"]);
        let (_, names) = candidates(&lua, "cloud.area.ne");
        assert_eq!(names, ["needs_restart"]);
    }

    #[test]
    fn completes_cloud_functions() {
        let (start, names) = candidates(&lua(), "x = cloud.get_rob");
        assert_eq!(start, "x = cloud.".len());
        assert_eq!(names, ["get_robot", "get_robot_part", "get_robot_parts"]);
    }

    #[test]
    fn completes_globals_and_keywords() {
        let (start, names) = candidates(&lua(), "my");
        assert_eq!((start, names), (0, vec!["myrobot".to_string()]));
        let (_, names) = candidates(&lua(), "fun");
        assert_eq!(names, ["function"]);
        let (_, names) = candidates(&lua(), "print(clo");
        assert_eq!(names, ["cloud"]);
    }

    #[test]
    fn completes_nested_table_keys() {
        let (_, names) = candidates(&lua(), "myrobot.");
        assert_eq!(names, ["id", "location", "name"]);
        let (start, names) = candidates(&lua(), "myrobot.location.n");
        assert_eq!(start, "myrobot.location.".len());
        assert_eq!(names, ["name"]);
        // Keys that are not identifiers are not offered as `t.key`.
        let (_, names) = candidates(&lua(), "cloud.no");
        assert!(names.is_empty());
    }

    #[test]
    fn follows_index_tables_and_colon_lists_methods() {
        let (_, names) = candidates(&lua(), "obj.");
        assert_eq!(names, ["field", "greet", "kind"]);
        let (_, names) = candidates(&lua(), "obj:");
        assert_eq!(names, ["greet"]);
    }

    #[test]
    fn never_calls_index_functions() {
        let (_, names) = candidates(&lua(), "trap.x.");
        assert!(names.is_empty());
        let (_, names) = candidates(&lua(), "myrobot.id.");
        assert!(names.is_empty());
        let (_, names) = candidates(&lua(), "nothing.");
        assert!(names.is_empty());
    }

    #[test]
    fn nothing_inside_strings_or_numbers() {
        assert!(candidates(&lua(), "print('cloud.get").1.is_empty());
        assert!(candidates(&lua(), "x = 1.").1.is_empty());
        assert_eq!(
            candidates(&lua(), "print('a', cloud.get_robot_parts").1,
            ["get_robot_parts"]
        );
    }
}

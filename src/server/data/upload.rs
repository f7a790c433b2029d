//! DataSyncService: the uploads. The caller is the part itself (its secret) or an API key that
//! may write data of the part's machine; it is checked before a byte is written. Readings are
//! rows; a binary payload is written to a temporary file as it streams in and renamed to its
//! id inside the transaction that inserts its row, so an acknowledged upload is on disk and in
//! the database together, and a failed one leaves neither.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};
use tonic::{Status, Streaming};

use super::{Source, binary_dir, binary_path, datasets, docs, tags_json};
use crate::proto::viam::app::datasync::v1::file_upload_request::UploadPacket as FilePacket;
use crate::proto::viam::app::datasync::v1::sensor_data::Data;
use crate::proto::viam::app::datasync::v1::streaming_data_capture_upload_request::UploadPacket as StreamPacket;
use crate::proto::viam::app::datasync::v1::*;
use crate::server::Api;
use crate::server::authz::{Identity, Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::limits;
use crate::server::store::{exec, from_ts, new_id, now};

/// Readings per DataCaptureUpload: a sync batch is far smaller; the message limit bounds the rest.
const MAX_READINGS: usize = 100_000;

/// The part behind an upload, once the caller may upload for it.
fn authorize(c: &Connection, who: &Principal, part_id: &str) -> ApiResult<Source> {
    let part_id = required("metadata.part_id", part_id)?;
    let scope = Scope::part(c, part_id)?;
    match &who.identity {
        Identity::Part { id } if id == part_id => {}
        Identity::Part { .. } => {
            return Err(ApiError::denied(format!(
                "a part may only upload its own data, not for {}",
                scope.what
            )));
        }
        Identity::ApiKey { .. } | Identity::User { .. } => {
            who.require(Perm::WriteDataManagement, &scope)?
        }
    }
    Source::of_part(c, part_id)
}

/// The part behind an upload and the datasets it names, checked before a byte is written.
fn authorize_upload(c: &Connection, who: &Principal, meta: &UploadMetadata) -> ApiResult<Source> {
    let src = authorize(c, who, &meta.part_id)?;
    datasets::check_upload(c, &src.org_id, &meta.dataset_ids)?;
    Ok(src)
}

/// The capture times of one item: as sent, or now when absent.
fn times(m: Option<&SensorMetadata>, now: i64) -> (i64, i64) {
    let get = |t: Option<&prost_types::Timestamp>| t.map_or(now, from_ts);
    match m {
        Some(m) => (
            get(m.time_requested.as_ref()),
            get(m.time_received.as_ref()),
        ),
        None => (now, now),
    }
}

/// A binary payload's row: everything but the file.
struct BinaryRow<'a> {
    id: &'a str,
    src: &'a Source,
    meta: &'a UploadMetadata,
    time_requested: i64,
    time_received: i64,
    size: u64,
    sha256: &'a str,
}

fn insert_binary(c: &Connection, r: &BinaryRow<'_>) -> ApiResult<()> {
    let m = r.meta;
    exec(
        c,
        "INSERT INTO data_binary(id, seq, org_id, location_id, robot_id, robot_name, part_id,
             part_name, component_type, component_name, method_name, method_parameters, tags,
             mime_type, file_name, file_ext, time_requested, time_received, size, sha256)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM data_binary), ?2, ?3, ?4, ?5, ?6, ?7,
             ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        params![
            r.id,
            r.src.org_id,
            r.src.location_id,
            r.src.robot_id,
            r.src.robot_name,
            r.src.part_id,
            r.src.part_name,
            m.component_type,
            m.component_name,
            m.method_name,
            docs::params_json(&m.method_parameters),
            tags_json(&m.tags),
            m.mime_type,
            m.file_name,
            m.file_extension,
            r.time_requested,
            r.time_received,
            r.size as i64,
            r.sha256,
        ],
    )?;
    // Checked again inside the transaction: a dataset deleted since the upload began.
    datasets::check_upload(c, &r.src.org_id, &m.dataset_ids)?;
    datasets::add_uploaded(c, r.id, &m.dataset_ids)
}

/// A temporary upload file, removed unless it was renamed into place.
struct PartFile(PathBuf);

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Receives a payload into a temporary file, hashing it; the bytes never sit whole in memory.
struct Sink {
    part: PartFile,
    file: Option<std::fs::File>,
    hasher: Option<Sha256>,
    size: u64,
}

impl Sink {
    fn create(api: &Api) -> ApiResult<Self> {
        let dir = binary_dir(api);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!(".upload-{}.part", new_id()));
        let file = std::fs::File::create(&path)?;
        Ok(Self {
            part: PartFile(path),
            file: Some(file),
            hasher: Some(Sha256::new()),
            size: 0,
        })
    }

    /// Writes one chunk off the async threads.
    async fn write(&mut self, chunk: Vec<u8>) -> ApiResult<()> {
        self.size += chunk.len() as u64;
        let (mut file, mut hasher) = (self.file.take(), self.hasher.take());
        let (file, hasher) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            if let (Some(f), Some(h)) = (file.as_mut(), hasher.as_mut()) {
                f.write_all(&chunk)?;
                h.update(&chunk);
            }
            Ok((file, hasher))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("upload writer: {e}")))??;
        self.file = file;
        self.hasher = hasher;
        Ok(())
    }

    /// Inserts the row and moves the file into place, both or neither.
    fn commit(
        mut self,
        api: &Api,
        src: &Source,
        meta: &UploadMetadata,
        (time_requested, time_received): (i64, i64),
    ) -> ApiResult<String> {
        if let Some(f) = self.file.take() {
            f.sync_data()?;
        }
        let sha256 = hex::encode(self.hasher.take().unwrap_or_default().finalize());
        let id = new_id();
        let dest = binary_path(api, &id)?;
        api.store.tx(|tx| {
            insert_binary(
                tx,
                &BinaryRow {
                    id: &id,
                    src,
                    meta,
                    time_requested,
                    time_received,
                    size: self.size,
                    sha256: &sha256,
                },
            )?;
            // Last: a failed rename rolls the row back.
            std::fs::rename(&self.part.0, &dest)?;
            Ok(())
        })?;
        Ok(id)
    }
}

pub fn data_capture_upload(
    api: &Api,
    who: &Principal,
    req: DataCaptureUploadRequest,
) -> ApiResult<DataCaptureUploadResponse> {
    let meta = req.metadata.unwrap_or_default();
    if req.sensor_contents.is_empty() {
        return Err(ApiError::invalid(
            "sensor_contents",
            "required: nothing to upload",
        ));
    }
    if req.sensor_contents.len() > MAX_READINGS {
        return Err(ApiError::invalid(
            "sensor_contents",
            format!(
                "{} items; at most {MAX_READINGS} per upload",
                req.sensor_contents.len()
            ),
        ));
    }
    let binary = req
        .sensor_contents
        .iter()
        .any(|s| matches!(s.data, Some(Data::Binary(_))));
    let kind = DataType::try_from(meta.r#type).map_err(|_| {
        ApiError::invalid(
            "metadata.type",
            format!("unknown data type {}", meta.r#type),
        )
    })?;
    match (kind, binary) {
        (DataType::File, _) => {
            return Err(ApiError::invalid(
                "metadata.type",
                "DATA_TYPE_FILE is uploaded with FileUpload",
            ));
        }
        (DataType::TabularSensor, true) => {
            return Err(ApiError::invalid(
                "sensor_contents",
                "binary data in a DATA_TYPE_TABULAR_SENSOR upload; send readings as structs",
            ));
        }
        _ => {}
    }
    let src = api.store.read(|c| authorize_upload(c, who, &meta))?;
    let t = now();
    if binary || kind == DataType::BinarySensor {
        let [item] = req.sensor_contents.as_slice() else {
            return Err(ApiError::invalid(
                "sensor_contents",
                "a binary upload carries exactly one item",
            ));
        };
        let Some(Data::Binary(bytes)) = &item.data else {
            return Err(ApiError::invalid(
                "sensor_contents.binary",
                "required in a DATA_TYPE_BINARY_SENSOR upload",
            ));
        };
        let sha256 = hex::encode(Sha256::digest(bytes));
        let id = new_id();
        let dest = binary_path(api, &id)?;
        std::fs::create_dir_all(binary_dir(api))?;
        let part = PartFile(binary_dir(api).join(format!(".upload-{id}.part")));
        let mut f = std::fs::File::create(&part.0)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        let (time_requested, time_received) = times(item.metadata.as_ref(), t);
        api.store.tx(|tx| {
            insert_binary(
                tx,
                &BinaryRow {
                    id: &id,
                    src: &src,
                    meta: &meta,
                    time_requested,
                    time_received,
                    size: bytes.len() as u64,
                    sha256: &sha256,
                },
            )?;
            std::fs::rename(&part.0, &dest)?;
            Ok(())
        })?;
        return Ok(DataCaptureUploadResponse {
            file_id: id.clone(),
            binary_data_id: id,
        });
    }
    if !meta.dataset_ids.is_empty() {
        return Err(ApiError::invalid(
            "metadata.dataset_ids",
            "datasets hold binary data only; upload readings without dataset_ids",
        ));
    }
    let params_json = docs::params_json(&meta.method_parameters);
    let tags = tags_json(&meta.tags);
    api.store.tx(|tx| {
        let mut insert = tx.prepare_cached(
            "INSERT INTO data_readings(org_id, location_id, robot_id, robot_name, part_id,
                 part_name, component_type, component_name, method_name, method_parameters,
                 tags, time_requested, time_received, time_synced, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        // What every reading of the upload shares is bound once: SQLite keeps bindings from
        // one execution to the next, and rebinding (copying) 12 strings per reading was a
        // tenth of an upload's inserts.
        let shared: [&dyn rusqlite::ToSql; 11] = [
            &src.org_id,
            &src.location_id,
            &src.robot_id,
            &src.robot_name,
            &src.part_id,
            &src.part_name,
            &meta.component_type,
            &meta.component_name,
            &meta.method_name,
            &params_json,
            &tags,
        ];
        for (n, value) in shared.into_iter().enumerate() {
            insert.raw_bind_parameter(n + 1, value)?;
        }
        insert.raw_bind_parameter(14, t)?;
        for (i, item) in req.sensor_contents.iter().enumerate() {
            let Some(Data::Struct(s)) = &item.data else {
                return Err(ApiError::invalid(
                    &format!("sensor_contents[{i}].struct"),
                    "required: a reading is a struct",
                ));
            };
            let (time_requested, time_received) = times(item.metadata.as_ref(), t);
            insert.raw_bind_parameter(12, time_requested)?;
            insert.raw_bind_parameter(13, time_received)?;
            insert.raw_bind_parameter(15, docs::reading_json(s))?;
            insert.raw_execute()?;
        }
        Ok(())
    })?;
    Ok(DataCaptureUploadResponse {
        // Readings have no file: the id names this upload only.
        file_id: new_id(),
        binary_data_id: String::new(),
    })
}

fn stream_error(s: Status) -> ApiError {
    ApiError::InvalidArgument(format!("reading the upload stream failed: {}", s.message()))
}

pub async fn file_upload(
    api: Arc<Api>,
    who: Principal,
    mut stream: Streaming<FileUploadRequest>,
) -> ApiResult<FileUploadResponse> {
    let first = stream.message().await.map_err(stream_error)?;
    let meta = match first.as_ref().and_then(|m| m.upload_packet.as_ref()) {
        Some(FilePacket::Metadata(m)) => m.clone(),
        Some(FilePacket::FileContents(_)) => {
            return Err(ApiError::invalid(
                "metadata",
                "must be the first message, before any file contents",
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "metadata",
                "required as the first message",
            ));
        }
    };
    if let Some(first) = &first {
        limits::check("file_upload", first)?;
    }
    let src = api.store.read(|c| authorize_upload(c, &who, &meta))?;
    let mut sink = Sink::create(&api)?;
    while let Some(msg) = stream.message().await.map_err(stream_error)? {
        match msg.upload_packet {
            Some(FilePacket::FileContents(c)) => sink.write(c.data).await?,
            Some(FilePacket::Metadata(_)) => {
                return Err(ApiError::invalid(
                    "metadata",
                    "sent twice; send it once, first",
                ));
            }
            None => {}
        }
    }
    let t = now();
    let id = sink.commit(&api, &src, &meta, (t, t))?;
    Ok(FileUploadResponse {
        file_id: id.clone(),
        binary_data_id: id,
    })
}

pub async fn streaming_data_capture_upload(
    api: Arc<Api>,
    who: Principal,
    mut stream: Streaming<StreamingDataCaptureUploadRequest>,
) -> ApiResult<StreamingDataCaptureUploadResponse> {
    let first = stream.message().await.map_err(stream_error)?;
    let m = match first.as_ref().and_then(|m| m.upload_packet.as_ref()) {
        Some(StreamPacket::Metadata(m)) => m.clone(),
        Some(StreamPacket::Data(_)) => {
            return Err(ApiError::invalid(
                "metadata",
                "must be the first message, before any data",
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "metadata",
                "required as the first message",
            ));
        }
    };
    if let Some(first) = &first {
        limits::check("streaming_data_capture_upload", first)?;
    }
    let meta = m.upload_metadata.unwrap_or_default();
    let src = api.store.read(|c| authorize_upload(c, &who, &meta))?;
    let mut sink = Sink::create(&api)?;
    while let Some(msg) = stream.message().await.map_err(stream_error)? {
        match msg.upload_packet {
            Some(StreamPacket::Data(d)) => sink.write(d).await?,
            Some(StreamPacket::Metadata(_)) => {
                return Err(ApiError::invalid(
                    "metadata",
                    "sent twice; send it once, first",
                ));
            }
            None => {}
        }
    }
    let times = times(m.sensor_metadata.as_ref(), now());
    let id = sink.commit(&api, &src, &meta, times)?;
    Ok(StreamingDataCaptureUploadResponse {
        file_id: id.clone(),
        binary_data_id: id,
    })
}

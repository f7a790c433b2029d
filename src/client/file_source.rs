//! A file sent as the tail of a client stream, read in chunks while the stream is sent, so an
//! upload of any size holds one chunk in memory rather than the whole file. Each chunk becomes
//! one request message with its bytes at a field path (`file_contents.data` for FileUpload).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::Stream;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value};
use tokio::io::AsyncReadExt;

/// Where the chunks come from and where they go in each message.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    /// Dotted field names from the request message to a `bytes` field.
    pub field: String,
    pub chunk_bytes: usize,
}

/// The first read error of a stream: the request stream cannot carry an error, so the caller
/// checks this after the call and fails it rather than report a truncated upload as done.
pub type ReadError = Arc<Mutex<Option<std::io::Error>>>;

impl FileSource {
    /// Checks that `field` leads through message fields to a bytes field of `input`.
    pub fn check(&self, input: &MessageDescriptor) -> Result<(), String> {
        let mut desc = input.clone();
        let names: Vec<&str> = self.field.split('.').collect();
        for (i, name) in names.iter().enumerate() {
            let f = desc
                .get_field_by_name(name)
                .ok_or_else(|| format!("{} has no field {name:?}", desc.full_name()))?;
            let last = i + 1 == names.len();
            match (f.kind(), last) {
                (prost_reflect::Kind::Bytes, true) => {}
                (prost_reflect::Kind::Message(m), false) => desc = m,
                _ => return Err(format!("{}: not a path to a bytes field", self.field)),
            }
        }
        if self.chunk_bytes == 0 {
            return Err("chunk size must be positive".into());
        }
        Ok(())
    }

    fn message(&self, input: &MessageDescriptor, bytes: Vec<u8>) -> DynamicMessage {
        let mut msg = DynamicMessage::new(input.clone());
        let mut cur = &mut msg;
        let names: Vec<&str> = self.field.split('.').collect();
        let (last, path) = names.split_last().expect("split always yields a name");
        for name in path {
            let v = cur.get_field_by_name_mut(name).expect("checked by check()");
            let Value::Message(m) = v else {
                unreachable!("checked by check()")
            };
            cur = m;
        }
        cur.set_field_by_name(last, Value::Bytes(bytes.into()));
        msg
    }

    /// The file's chunks as messages; opened anew on every call (a retry sends it again from the
    /// start). A read error ends the stream and is kept in `error`.
    pub fn stream(
        &self,
        input: MessageDescriptor,
        error: ReadError,
    ) -> impl Stream<Item = DynamicMessage> + Send + 'static {
        let source = self.clone();
        futures::stream::unfold(None::<tokio::fs::File>, move |file| {
            let (source, input, error) = (source.clone(), input.clone(), error.clone());
            async move {
                let mut file = match file {
                    Some(f) => f,
                    None => match tokio::fs::File::open(&source.path).await {
                        Ok(f) => f,
                        Err(e) => {
                            keep(&error, e);
                            return None;
                        }
                    },
                };
                let mut buf = vec![0u8; source.chunk_bytes];
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read(&mut buf[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            keep(&error, e);
                            return None;
                        }
                    }
                }
                if filled == 0 {
                    return None;
                }
                buf.truncate(filled);
                Some((source.message(&input, buf), Some(file)))
            }
        })
    }
}

fn keep(cell: &ReadError, e: std::io::Error) {
    let mut slot = cell.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(e);
}

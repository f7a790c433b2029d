//! A tonic codec for the generic client: requests are `prost_reflect::DynamicMessage`s, replies
//! stay encoded (`Reply`) so that the Lua side decodes them straight into tables.

use bytes::{Buf, Bytes};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// An encoded response message and its type.
#[derive(Clone, Debug)]
pub struct Reply {
    pub desc: MessageDescriptor,
    pub bytes: Bytes,
}

impl Reply {
    /// The reply as a `DynamicMessage`, for Rust callers that read fields (not the hot path).
    pub fn decode(&self) -> Result<DynamicMessage, Status> {
        DynamicMessage::decode(self.desc.clone(), self.bytes.as_ref())
            .map_err(|e| Status::internal(format!("decoding {}: {e}", self.desc.full_name())))
    }
}

/// Encodes any request message; tags responses with `response` (the method's output type).
pub struct DynCodec {
    response: MessageDescriptor,
}

impl DynCodec {
    pub fn new(response: MessageDescriptor) -> Self {
        Self { response }
    }
}

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = Reply;
    type Encoder = DynEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder(self.response.clone())
    }
}

pub struct DynEncoder;

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding request: {e}")))
    }
}

/// Keeps the message bytes as they came: decoding them is the consumer's job.
pub struct RawDecoder(MessageDescriptor);

impl Decoder for RawDecoder {
    type Item = Reply;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Reply>, Status> {
        Ok(Some(Reply {
            desc: self.0.clone(),
            bytes: src.copy_to_bytes(src.remaining()),
        }))
    }
}

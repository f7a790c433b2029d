//! A tonic codec for the generic client: requests are `prost_reflect::DynamicMessage`s or
//! bytes already encoded (`Wire`), replies stay encoded (`Reply`) so that the Lua side decodes
//! them straight into tables.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
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

/// A request message as the codec writes it.
pub trait Wire: Send + Sync + 'static {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status>;
}

impl Wire for DynamicMessage {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.encode(dst)
            .map_err(|e| Status::internal(format!("encoding request: {e}")))
    }
}

/// A message encoded once before the call: a retry sends the same bytes again.
impl Wire for Bytes {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(self);
        Ok(())
    }
}

/// Encodes any request message; tags responses with `response` (the method's output type).
pub struct DynCodec<T = DynamicMessage> {
    response: MessageDescriptor,
    request: PhantomData<fn(T)>,
}

impl<T> DynCodec<T> {
    pub fn new(response: MessageDescriptor) -> Self {
        Self {
            response,
            request: PhantomData,
        }
    }
}

impl<T: Wire> Codec for DynCodec<T> {
    type Encode = T;
    type Decode = Reply;
    type Encoder = WireEncoder<T>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> WireEncoder<T> {
        WireEncoder(PhantomData)
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder(self.response.clone())
    }
}

pub struct WireEncoder<T>(PhantomData<fn(T)>);

impl<T: Wire> Encoder for WireEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.write(dst)
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

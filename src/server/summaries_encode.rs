//! ListMachineSummaries' reply written as protobuf while the query steps through its rows.
//! Building 10,000 machines' messages (three Strings a part, a Vec a machine) and then having
//! prost measure every nested message again at each level of nesting was a third of the
//! call's server time; here each row's fields go straight from SQLite's row into the bytes.
//! The bytes are the ones prost would write for the same messages (fields by tag number, proto3
//! defaults left out): the tests decode and re-encode them to check.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType, encode_key, encode_varint, message, skip_field};
use prost::{DecodeError, Message};

use crate::proto::viam::app::v1::{
    FragmentSummary, LocationSummary, ViamServerVersion, viam_server_version,
};

/// viam.app.v1.ListMachineSummariesResponse, in place of prost-build's type (build.rs names
/// it with `extern_path`). The server sends `encoded`, the summaries a [`SummariesWriter`]
/// wrote; a client decodes into `location_summaries`, as with the generated type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListMachineSummariesResponse {
    /// `location_summaries = 1`.
    pub location_summaries: Vec<LocationSummary>,
    /// More of field 1, already encoded (keys and lengths included); sent first.
    encoded: Vec<u8>,
}

const LOCATION_SUMMARIES: u32 = 1;

impl Message for ListMachineSummariesResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.encoded);
        message::encode_repeated(LOCATION_SUMMARIES, &self.location_summaries, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == LOCATION_SUMMARIES {
            message::merge_repeated(wire_type, &mut self.location_summaries, buf, ctx)
        } else {
            skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        self.encoded.len()
            + message::encoded_len_repeated(LOCATION_SUMMARIES, &self.location_summaries)
    }

    fn clear(&mut self) {
        self.location_summaries.clear();
        self.encoded.clear();
    }
}

/// One part's fields, borrowed from its row (viam.app.v1.PartSummary).
pub struct PartFields<'a> {
    pub part_id: &'a str,
    pub part_name: &'a str,
    pub is_main_part: bool,
    pub online_state: i32,
    pub seconds_since_online: i64,
    pub last_access: Option<prost_types::Timestamp>,
    pub last_online: Option<prost_types::Timestamp>,
    pub viam_server_version: Option<&'a str>,
    pub os: Option<&'a str>,
    pub platform: Option<&'a str>,
    pub dns_name: &'a str,
    pub fragments: &'a [FragmentSummary],
}

/// Writes location summaries in order: a machine opened, its parts, the machine closed (kept
/// or dropped), the next. A location's summary is written when a machine of another location
/// opens or at the end, and only if it kept a machine.
#[derive(Default)]
pub struct SummariesWriter {
    /// The response's field 1 so far: the finished locations.
    out: Vec<u8>,
    /// The open location's id and its fields so far (id, name, the kept machines).
    location_id: String,
    location: Vec<u8>,
    location_open: bool,
    location_kept: bool,
    /// The open machine's fields (id, name, parts), if a machine is open.
    machine: Vec<u8>,
    machine_open: bool,
    /// One part's fields, before its length is known.
    part: Vec<u8>,
    kept: usize,
}

impl SummariesWriter {
    /// Machines kept so far.
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Starts a machine of the given location, closing the location before it when that is
    /// another one. The open machine, if any, must have been closed.
    pub fn open_machine(
        &mut self,
        location_id: &str,
        location_name: &str,
        machine_id: &str,
        machine_name: &str,
    ) {
        debug_assert!(!self.machine_open, "a machine was left open");
        if !self.location_open || self.location_id != location_id {
            self.close_location();
            self.location_open = true;
            self.location_id.clear();
            self.location_id.push_str(location_id);
            put_str(1, location_id, &mut self.location);
            put_str(2, location_name, &mut self.location);
        }
        put_str(1, machine_id, &mut self.machine);
        put_str(2, machine_name, &mut self.machine);
        self.machine_open = true;
    }

    /// Adds a part to the open machine.
    pub fn part(&mut self, p: &PartFields<'_>) {
        let b = &mut self.part;
        // PartSummary's fields by tag number, as prost writes them.
        put_str(1, p.part_id, b);
        put_str(2, p.part_name, b);
        if let Some(t) = &p.last_online {
            message::encode(3, t, b);
        }
        if let Some(v) = p.viam_server_version {
            let version = ViamServerVersion {
                version: Some(viam_server_version::Version::Major(v.to_string())),
            };
            message::encode(4, &version, b);
        }
        // 5, viam_agent_version: nothing a part sends names it.
        if let Some(os) = p.os {
            put_bytes(6, os.as_bytes(), b);
        }
        if let Some(platform) = p.platform {
            put_bytes(7, platform.as_bytes(), b);
        }
        // 8, public_ip_address: the local fleet does not see one.
        message::encode_repeated(9, p.fragments, b);
        put_bytes(10, p.dns_name.as_bytes(), b);
        if p.is_main_part {
            encode_key(11, WireType::Varint, b);
            encode_varint(1, b);
        }
        if p.online_state != 0 {
            encode_key(12, WireType::Varint, b);
            encode_varint(p.online_state as i64 as u64, b);
        }
        if p.seconds_since_online != 0 {
            encode_key(13, WireType::Varint, b);
            encode_varint(p.seconds_since_online as u64, b);
        }
        if let Some(t) = &p.last_access {
            message::encode(14, t, b);
        }
        put_bytes(3, &self.part, &mut self.machine);
        self.part.clear();
    }

    /// Ends the open machine (if one is open), adding it to its location when `keep`.
    pub fn close_machine(&mut self, keep: bool) {
        if !self.machine_open {
            return;
        }
        if keep {
            put_bytes(3, &self.machine, &mut self.location);
            self.location_kept = true;
            self.kept += 1;
        }
        self.machine.clear();
        self.machine_open = false;
    }

    fn close_location(&mut self) {
        if self.location_kept {
            put_bytes(LOCATION_SUMMARIES, &self.location, &mut self.out);
        }
        self.location.clear();
        self.location_open = false;
        self.location_kept = false;
    }

    /// The response, after closing the open location. The open machine, if any, must have
    /// been closed.
    pub fn finish(mut self) -> ListMachineSummariesResponse {
        debug_assert!(!self.machine_open, "a machine was left open");
        self.close_location();
        ListMachineSummariesResponse {
            location_summaries: Vec::new(),
            encoded: self.out,
        }
    }
}

/// A proto3 string field: left out when empty.
fn put_str(tag: u32, v: &str, buf: &mut Vec<u8>) {
    if !v.is_empty() {
        put_bytes(tag, v.as_bytes(), buf);
    }
}

/// A length-delimited field, written even when empty (an `optional` string, a message).
fn put_bytes(tag: u32, v: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(v.len() as u64, buf);
    buf.extend_from_slice(v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::viam::app::v1::{MachineSummary, PartSummary};

    fn part<'a>(id: &'a str, fragments: &'a [FragmentSummary]) -> PartFields<'a> {
        PartFields {
            part_id: id,
            part_name: "main",
            is_main_part: true,
            online_state: 2,
            seconds_since_online: 7,
            last_access: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            }),
            last_online: Some(prost_types::Timestamp::default()),
            viam_server_version: Some("0.52.0"),
            os: Some(""),
            platform: Some("linux/arm64"),
            dns_name: "main",
            fragments,
        }
    }

    fn bare(id: &str) -> PartFields<'_> {
        PartFields {
            part_id: id,
            part_name: "",
            is_main_part: false,
            online_state: 0,
            seconds_since_online: 0,
            last_access: None,
            last_online: None,
            viam_server_version: None,
            os: None,
            platform: None,
            dns_name: "",
            fragments: &[],
        }
    }

    #[test]
    fn writes_what_prost_writes_for_the_same_summaries() {
        let fragments = [FragmentSummary {
            id: "f1".into(),
            name: "base".into(),
        }];
        let mut w = SummariesWriter::default();
        w.open_machine("l1", "Lab", "m1", "arm");
        w.part(&part("p1", &fragments));
        w.part(&bare("p2"));
        w.close_machine(true);
        w.open_machine("l1", "Lab", "m2", "dropped");
        w.part(&bare("p3"));
        w.close_machine(false);
        // A location whose machines were all dropped is left out.
        w.open_machine("l2", "Empty", "m3", "dropped too");
        w.close_machine(false);
        w.open_machine("l3", "", "m4", "");
        w.part(&bare("p4"));
        w.close_machine(true);
        assert_eq!(w.kept(), 2);
        let bytes = w.finish().encode_to_vec();

        let decoded = ListMachineSummariesResponse::decode(bytes.as_slice()).unwrap();
        let want = vec![
            LocationSummary {
                location_id: "l1".into(),
                location_name: "Lab".into(),
                machine_summaries: vec![MachineSummary {
                    machine_id: "m1".into(),
                    machine_name: "arm".into(),
                    part_summaries: vec![
                        PartSummary {
                            part_id: "p1".into(),
                            part_name: "main".into(),
                            is_main_part: true,
                            online_state: 2,
                            seconds_since_online: 7,
                            last_access: Some(prost_types::Timestamp {
                                seconds: 1_700_000_000,
                                nanos: 5,
                            }),
                            last_online: Some(prost_types::Timestamp::default()),
                            viam_server_version: Some(ViamServerVersion {
                                version: Some(viam_server_version::Version::Major("0.52.0".into())),
                            }),
                            viam_agent_version: None,
                            os: Some(String::new()),
                            platform: Some("linux/arm64".into()),
                            public_ip_address: None,
                            dns_name: Some("main".into()),
                            fragments: fragments.to_vec(),
                        },
                        PartSummary {
                            part_id: "p2".into(),
                            dns_name: Some(String::new()),
                            ..Default::default()
                        },
                    ],
                }],
            },
            LocationSummary {
                location_id: "l3".into(),
                location_name: String::new(),
                machine_summaries: vec![MachineSummary {
                    machine_id: "m4".into(),
                    machine_name: String::new(),
                    part_summaries: vec![PartSummary {
                        part_id: "p4".into(),
                        dns_name: Some(String::new()),
                        ..Default::default()
                    }],
                }],
            },
        ];
        assert_eq!(decoded.location_summaries, want);
        // prost's own encoding of the decoded messages: byte for byte the same.
        assert_eq!(decoded.encode_to_vec(), bytes);
    }

    #[test]
    fn an_empty_writer_is_an_empty_reply() {
        let reply = SummariesWriter::default().finish();
        assert!(reply.encode_to_vec().is_empty());
        assert_eq!(reply.encoded_len(), 0);
    }
}

//! The readings a simulated part captures: each component of the spec, one reading per tick of
//! the rate, its fields constant or cycling through their lists (deterministic, so a test knows
//! what the nth reading holds), sent as one DataCaptureUpload per component and batch.

use std::time::{Duration, SystemTime};

use prost_types::{Struct, Timestamp};
use serde_json::Value;

use super::spec::{ComponentSpec, ReadingsSpec};
use crate::proto::viam::app::datasync::v1::sensor_data::Data;
use crate::proto::viam::app::datasync::v1::{
    DataCaptureUploadRequest, DataType, SensorData, SensorMetadata, UploadMetadata,
};
use crate::server::structs::json_to_value;

pub struct Capture {
    components: Vec<ComponentSpec>,
    rate: f64,
    /// Readings owed per component but not yet captured (fractions carry over between ticks).
    owed: f64,
    /// Readings captured so far per component: the index into each cycling list.
    count: u64,
}

impl Capture {
    pub fn new(spec: &ReadingsSpec) -> Self {
        Self {
            components: spec.components.clone(),
            rate: spec.rate,
            owed: 0.0,
            count: 0,
        }
    }

    /// How often to capture: each reading on its own up to 10/s, batches beyond.
    pub fn tick(&self) -> Option<Duration> {
        (self.rate > 0.0 && !self.components.is_empty())
            .then(|| Duration::from_secs_f64((1.0 / self.rate).max(0.1)))
    }

    /// Forgets readings owed while offline: a part offline captures nothing.
    pub fn forgive(&mut self) {
        self.owed = 0.0;
    }

    /// The uploads due after `elapsed` more time online (at most `max` readings a component),
    /// one per component, the readings spaced by the rate and ending now; and how many readings
    /// each holds.
    pub fn due(
        &mut self,
        part_id: &str,
        elapsed: Duration,
        max: usize,
    ) -> (Vec<DataCaptureUploadRequest>, u64) {
        self.owed = (self.owed + self.rate * elapsed.as_secs_f64()).min(max as f64);
        let n = self.owed.floor() as u64;
        self.owed -= n as f64;
        if n == 0 {
            return (vec![], 0);
        }
        let now = SystemTime::now();
        let spacing = Duration::from_secs_f64(1.0 / self.rate);
        let first = self.count;
        self.count += n;
        let uploads = self
            .components
            .iter()
            .map(|c| DataCaptureUploadRequest {
                metadata: Some(UploadMetadata {
                    part_id: part_id.into(),
                    component_type: c.component_type.clone(),
                    component_name: c.name.clone(),
                    method_name: c.method.clone(),
                    r#type: DataType::TabularSensor as i32,
                    ..Default::default()
                }),
                sensor_contents: (first..first + n)
                    .map(|i| {
                        let at = now
                            .checked_sub(spacing.mul_f64((first + n - 1 - i) as f64))
                            .unwrap_or(now);
                        SensorData {
                            metadata: Some(SensorMetadata {
                                time_requested: Some(timestamp(at)),
                                time_received: Some(timestamp(at)),
                                ..Default::default()
                            }),
                            data: Some(Data::Struct(reading(c, i))),
                        }
                    })
                    .collect(),
            })
            .collect();
        (uploads, n)
    }
}

/// The `i`th reading of `c` as a sensor's capture holds it: `{readings = {field = value}}`.
pub fn reading(c: &ComponentSpec, i: u64) -> Struct {
    let fields = c
        .values
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Array(list) => list[(i % list.len() as u64) as usize].clone(),
                other => other.clone(),
            };
            (k.clone(), json_to_value(v))
        })
        .collect();
    let inner = prost_types::Value {
        kind: Some(prost_types::value::Kind::StructValue(Struct { fields })),
    };
    Struct {
        fields: [("readings".to_string(), inner)].into(),
    }
}

fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(rate: f64) -> ReadingsSpec {
        serde_json::from_value(json!({
            "rate": rate,
            "components": [
                {"name": "temp", "values": {"temperature": [20, 21, 22], "unit": "C"}},
                {"name": "cam", "type": "rdk:component:camera", "method": "GetImages"}
            ]
        }))
        .unwrap()
    }

    fn field(s: &Struct, name: &str) -> prost_types::value::Kind {
        let Some(prost_types::value::Kind::StructValue(r)) = &s.fields["readings"].kind else {
            panic!("no readings in {s:?}")
        };
        r.fields[name].kind.clone().unwrap()
    }

    #[test]
    fn lists_cycle_and_constants_stay_one_upload_per_component() {
        let mut c = Capture::new(&spec(2.0));
        let (uploads, n) = c.due("p1", Duration::from_secs(2), 1000);
        assert_eq!(n, 4);
        assert_eq!(uploads.len(), 2);
        let temp = &uploads[0];
        let meta = temp.metadata.as_ref().unwrap();
        assert_eq!(
            (meta.part_id.as_str(), meta.component_name.as_str()),
            ("p1", "temp")
        );
        assert_eq!(meta.component_type, "rdk:component:sensor");
        assert_eq!(meta.method_name, "Readings");
        assert_eq!(
            uploads[1].metadata.as_ref().unwrap().method_name,
            "GetImages"
        );
        let temps: Vec<_> = temp
            .sensor_contents
            .iter()
            .map(|s| match &s.data {
                Some(Data::Struct(st)) => field(st, "temperature"),
                other => panic!("{other:?}"),
            })
            .collect();
        use prost_types::value::Kind::NumberValue as N;
        assert_eq!(temps, vec![N(20.0), N(21.0), N(22.0), N(20.0)]);
        let times: Vec<i64> = temp
            .sensor_contents
            .iter()
            .map(|s| s.metadata.as_ref().unwrap().time_requested.unwrap().seconds)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "in order: {times:?}"
        );
        // The next batch goes on where this one stopped.
        let (next, _) = c.due("p1", Duration::from_millis(500), 1000);
        let Some(Data::Struct(st)) = &next[0].sensor_contents[0].data else {
            panic!()
        };
        assert_eq!(field(st, "temperature"), N(21.0));
        assert_eq!(
            field(st, "unit"),
            prost_types::value::Kind::StringValue("C".into())
        );
    }

    #[test]
    fn fractions_carry_over_and_silence_is_no_tick() {
        let mut c = Capture::new(&spec(1.0));
        assert_eq!(c.due("p", Duration::from_millis(600), 10).1, 0);
        assert_eq!(c.due("p", Duration::from_millis(600), 10).1, 1);
        assert_eq!(c.due("p", Duration::from_secs(3600), 10).1, 10);
        assert_eq!(c.tick(), Some(Duration::from_secs(1)));
        assert_eq!(Capture::new(&ReadingsSpec::default()).tick(), None);
    }
}

//! The reference temperature alert (packages/plugin-example/src/temperature-alert.ts) in Rust:
//! above `high` the alert turns on, below `low` it turns off, in between nothing changes; states
//! that are not plain decimal numbers are ignored.
use homecore::{log_error, log_info, setting, state_set, subscribe_entities, HcResult, Json, Plugin, Status};

mod numeric;
use numeric::{number_setting, parse_numeric_state};

#[derive(Default)]
struct TemperatureAlert {
    sensor: String,
    alert: String,
    high: f64,
    low: f64,
}

impl Plugin for TemperatureAlert {
    fn setup(&mut self, entry: &Json) -> HcResult<()> {
        let sensor = setting(entry, "sensor").and_then(Json::as_str).unwrap_or("");
        let alert = setting(entry, "alert").and_then(Json::as_str).unwrap_or("");
        if sensor.is_empty() || alert.is_empty() {
            let _ = log_error("temperature_alert: set \"sensor\" and \"alert\" in the config entry data to entity id strings");
            return Err(Status::INVALID_ARGUMENT);
        }
        let (high, low) = match (number_setting(setting(entry, "high"), 25.0), number_setting(setting(entry, "low"), 20.0)) {
            (Some(h), Some(l)) if l <= h => (h, l),
            _ => {
                let _ = log_error("temperature_alert: \"high\" and \"low\" must be finite numbers with low <= high");
                return Err(Status::INVALID_ARGUMENT);
            }
        };
        self.sensor = sensor.to_string();
        self.alert = alert.to_string();
        self.high = high;
        self.low = low;
        subscribe_entities(&self.sensor)?;
        let _ = log_info(&format!("watching {}: on above {}, off below {}", self.sensor, high, low));
        Ok(())
    }

    fn on_state_changed(&mut self, event: &Json) -> HcResult<()> {
        if event.path(&["data", "entity_id"]).and_then(Json::as_str) != Some(self.sensor.as_str()) {
            return Ok(());
        }
        let temperature = match event.path(&["data", "new_state", "state"]).and_then(Json::as_str).and_then(parse_numeric_state) {
            Some(t) => t,
            None => return Ok(()),
        };
        let (state, threshold) = if temperature > self.high {
            ("on", self.high)
        } else if temperature < self.low {
            ("off", self.low)
        } else {
            return Ok(());
        };
        let attrs = Json::object([("temperature", Json::Number(temperature)), ("threshold", Json::Number(threshold))]);
        state_set(&self.alert, state, Some(&attrs))
    }
}

homecore::export_plugin!(TemperatureAlert);

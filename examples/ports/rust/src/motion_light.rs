//! The reference motion light (packages/plugin-example/src/motion-light.ts) in Rust: motion `on`
//! calls virtual_light.turn_on and sets the off time to now + off_after_s; on each time_changed
//! the light is turned off once that time has passed and the motion is off. The service
//! set_timeout {seconds} changes off_after_s; an options update is applied without a reload.
use homecore::{log_error, log_info, now, service_call, setting, subscribe_entities, HcResult, Json, Plugin, Status};

mod numeric;
use numeric::number_setting;

#[derive(Default)]
struct MotionLight {
    motion: String,
    light: String,
    off_after_s: f64,
    motion_on: bool,
    light_on: bool,
    off_at: f64,
}

impl MotionLight {
    /// Reads the settings; subscribes to the motion sensor when it is new.
    fn apply(&mut self, entry: &Json) -> HcResult<()> {
        let motion = setting(entry, "motion").and_then(Json::as_str).unwrap_or("");
        let light = setting(entry, "light").and_then(Json::as_str).unwrap_or("");
        if motion.is_empty() || light.is_empty() {
            let _ = log_error("motion_light: set \"motion\" and \"light\" in the config entry data to entity id strings");
            return Err(Status::INVALID_ARGUMENT);
        }
        let seconds = match number_setting(setting(entry, "off_after_s"), 120.0) {
            Some(s) if s > 0.0 => s,
            _ => {
                let _ = log_error("motion_light: \"off_after_s\" must be a number above 0");
                return Err(Status::INVALID_ARGUMENT);
            }
        };
        if motion != self.motion {
            subscribe_entities(motion)?;
        }
        self.motion = motion.to_string();
        self.light = light.to_string();
        self.off_after_s = seconds;
        Ok(())
    }

    fn switch(&self, service: &str) -> HcResult<()> {
        service_call("virtual_light", service, Some(&Json::object([("entity_id", Json::str(&self.light))])))
    }
}

impl Plugin for MotionLight {
    fn setup(&mut self, entry: &Json) -> HcResult<()> {
        self.apply(entry)
    }

    fn on_config_update(&mut self, entry: &Json) -> HcResult<()> {
        self.apply(entry)
    }

    fn on_state_changed(&mut self, event: &Json) -> HcResult<()> {
        if event.path(&["data", "entity_id"]).and_then(Json::as_str) != Some(self.motion.as_str()) {
            return Ok(());
        }
        self.motion_on = event.path(&["data", "new_state", "state"]).and_then(Json::as_str) == Some("on");
        if !self.motion_on {
            return Ok(());
        }
        self.off_at = now() + self.off_after_s * 1000.0;
        if !self.light_on {
            self.light_on = true;
            let _ = self.switch("turn_on");
        }
        Ok(())
    }

    fn on_event(&mut self, event: &Json) -> HcResult<()> {
        if event.get("event_type").and_then(Json::as_str) != Some("time_changed") {
            return Ok(());
        }
        if self.light_on && !self.motion_on && now() >= self.off_at {
            self.light_on = false;
            let _ = self.switch("turn_off");
        }
        Ok(())
    }

    fn on_service_call(&mut self, call: &Json) -> HcResult<()> {
        if call.get("service").and_then(Json::as_str) != Some("set_timeout") {
            return Err(Status::INVALID_ARGUMENT);
        }
        match call.path(&["data", "seconds"]).and_then(Json::as_f64) {
            Some(seconds) if seconds.is_finite() && seconds > 0.0 => {
                self.off_after_s = seconds;
                let _ = log_info(&format!("off_after_s is now {}", seconds));
                Ok(())
            }
            _ => {
                let _ = log_error("motion_light.set_timeout needs data {\"seconds\": <number above 0>}");
                Err(Status::INVALID_ARGUMENT)
            }
        }
    }
}

homecore::export_plugin!(MotionLight, config_update);

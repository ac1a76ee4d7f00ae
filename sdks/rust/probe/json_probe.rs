//! A test plugin for the SDK's JSON parser and writer: the service json_probe.parse {text} parses
//! `text` with `Json::parse`, and fires json_probe_result {valid, value} with the value written
//! back by `Json::to_json`. test/guest-ports.test.ts compares the result with JSON.parse.
use homecore::{event_fire, HcResult, Json, Plugin, Status};

#[derive(Default)]
struct JsonProbe;

impl Plugin for JsonProbe {
    fn on_service_call(&mut self, call: &Json) -> HcResult<()> {
        let text = call.path(&["data", "text"]).and_then(Json::as_str).ok_or(Status::INVALID_ARGUMENT)?;
        let result = match Json::parse(text) {
            Some(value) => Json::object([("valid", Json::Bool(true)), ("value", value)]),
            None => Json::object([("valid", Json::Bool(false))]),
        };
        event_fire("json_probe_result", Some(&result))
    }
}

homecore::export_plugin!(JsonProbe);

// The reference temperature alert (packages/plugin-example/src/temperature-alert.ts) in C:
// above `high` the alert turns on, below `low` it turns off, in between nothing changes;
// states that are not plain decimal numbers are ignored.
#define HOMECORE_IMPLEMENTATION
#include "homecore.h"
#include "numeric.h"

static char sensor[256];
static char alert[256];
static double high = 25;
static double low = 20;

HC_EXPORT(hc_setup) int32_t setup(int32_t ptr, int32_t len) {
  hc_json entry = hc_payload(ptr, len);
  if (!hc_json_valid(entry)) return HC_INVALID_JSON;
  if (hc_json_string(hc_setting(entry, "sensor"), sensor, sizeof sensor) <= 0 ||
      hc_json_string(hc_setting(entry, "alert"), alert, sizeof alert) <= 0) {
    hc_log_str(HC_LOG_ERROR, "temperature_alert: set \"sensor\" and \"alert\" in the config entry data to entity id strings");
    return HC_INVALID_ARGUMENT;
  }
  int ok_high = number_setting(hc_setting(entry, "high"), 25, &high);
  int ok_low = number_setting(hc_setting(entry, "low"), 20, &low);
  if (!ok_high || !ok_low || low > high) {
    hc_log_str(HC_LOG_ERROR, "temperature_alert: \"high\" and \"low\" must be finite numbers with low <= high");
    return HC_INVALID_ARGUMENT;
  }
  int32_t status = hc_subscribe_entities(sensor);
  if (status != HC_OK) return status;
  char line[640];
  hc_writer w = hc_writer_init(line, sizeof line);
  hc_w_raw(&w, (hc_json){"watching ", 9});
  hc_w_raw(&w, (hc_json){sensor, hc_strlen(sensor)});
  hc_w_raw(&w, (hc_json){": on above ", 11});
  hc_w_f64(&w, high);
  hc_w_raw(&w, (hc_json){", off below ", 12});
  hc_w_f64(&w, low);
  if (!w.overflow) hc_log(HC_LOG_INFO, line, w.len);
  return HC_OK;
}

HC_EXPORT(hc_on_state_changed) int32_t on_state_changed(int32_t ptr, int32_t len) {
  hc_json event = hc_payload(ptr, len);
  hc_json data = hc_json_get(event, "data");
  if (!hc_json_is(hc_json_get(data, "entity_id"), sensor)) return HC_OK;
  hc_json next = hc_json_get(data, "new_state");
  if (hc_json_type(next) != HC_JSON_OBJECT) return HC_OK;
  char state[256];
  int32_t n = hc_json_string(hc_json_get(next, "state"), state, sizeof state);
  if (n < 0) return HC_OK;
  double temperature;
  if (!parse_numeric_state(state, n, &temperature)) return HC_OK;
  const char *value;
  double threshold;
  if (temperature > high) {
    value = "on";
    threshold = high;
  } else if (temperature < low) {
    value = "off";
    threshold = low;
  } else {
    return HC_OK;
  }
  char attrs[96];
  hc_writer w = hc_writer_init(attrs, sizeof attrs);
  hc_w_object_begin(&w);
  hc_w_key_f64(&w, "temperature", temperature);
  hc_w_key_f64(&w, "threshold", threshold);
  hc_w_object_end(&w);
  if (w.overflow) return HC_FAILED;
  return hc_set_state(alert, value, attrs, w.len) == HC_OK ? HC_OK : HC_FAILED;
}

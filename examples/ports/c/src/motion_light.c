// The reference motion light (packages/plugin-example/src/motion-light.ts) in C: motion `on`
// calls virtual_light.turn_on and sets the off time to now + off_after_s; on each time_changed
// the light is turned off once that time has passed and the motion is off. The service
// set_timeout {seconds} changes off_after_s; an options update is applied without a reload.
#define HOMECORE_IMPLEMENTATION
#include "homecore.h"
#include "numeric.h"

static char motion[256];
static char light[256];
static double off_after_s = 120;
static int motion_on = 0;
static int light_on = 0;
static double off_at = 0;

// Reads the settings; subscribes to the motion sensor when it is new.
static int32_t apply(hc_json entry) {
  if (!hc_json_valid(entry)) return HC_INVALID_JSON;
  char m[256], l[256];
  if (hc_json_string(hc_setting(entry, "motion"), m, sizeof m) <= 0 || hc_json_string(hc_setting(entry, "light"), l, sizeof l) <= 0) {
    hc_log_str(HC_LOG_ERROR, "motion_light: set \"motion\" and \"light\" in the config entry data to entity id strings");
    return HC_INVALID_ARGUMENT;
  }
  double seconds;
  if (!number_setting(hc_setting(entry, "off_after_s"), 120, &seconds) || seconds <= 0) {
    hc_log_str(HC_LOG_ERROR, "motion_light: \"off_after_s\" must be a number above 0");
    return HC_INVALID_ARGUMENT;
  }
  if (!hc_bytes_eq(m, hc_strlen(m), motion, hc_strlen(motion))) {
    int32_t status = hc_subscribe_entities(m);
    if (status != HC_OK) return status;
  }
  __builtin_memcpy(motion, m, sizeof motion);
  __builtin_memcpy(light, l, sizeof light);
  off_after_s = seconds;
  return HC_OK;
}

static void switch_light(const char *service) {
  char data[300];
  hc_writer w = hc_writer_init(data, sizeof data);
  hc_w_object_begin(&w);
  hc_w_key_string(&w, "entity_id", light);
  hc_w_object_end(&w);
  if (!w.overflow) hc_call_service("virtual_light", service, data, w.len);
}

HC_EXPORT(hc_setup) int32_t setup(int32_t ptr, int32_t len) { return apply(hc_payload(ptr, len)); }

HC_EXPORT(hc_on_config_update) int32_t on_config_update(int32_t ptr, int32_t len) { return apply(hc_payload(ptr, len)); }

HC_EXPORT(hc_on_state_changed) int32_t on_state_changed(int32_t ptr, int32_t len) {
  hc_json data = hc_json_get(hc_payload(ptr, len), "data");
  if (!hc_json_is(hc_json_get(data, "entity_id"), motion)) return HC_OK;
  motion_on = hc_json_is(hc_json_path(data, "new_state", "state", NULL, NULL), "on");
  if (!motion_on) return HC_OK;
  off_at = hc_clock_now() + off_after_s * 1000;
  if (!light_on) {
    light_on = 1;
    switch_light("turn_on");
  }
  return HC_OK;
}

HC_EXPORT(hc_on_event) int32_t on_event(int32_t ptr, int32_t len) {
  if (!hc_json_is(hc_json_get(hc_payload(ptr, len), "event_type"), "time_changed")) return HC_OK;
  if (light_on && !motion_on && hc_clock_now() >= off_at) {
    light_on = 0;
    switch_light("turn_off");
  }
  return HC_OK;
}

HC_EXPORT(hc_on_service_call) int32_t on_service_call(int32_t ptr, int32_t len) {
  hc_json call = hc_payload(ptr, len);
  if (!hc_json_valid(call) || !hc_json_is(hc_json_get(call, "service"), "set_timeout")) return HC_INVALID_ARGUMENT;
  double seconds;
  if (!hc_json_number(hc_json_path(call, "data", "seconds", NULL, NULL), &seconds) || !hc_isfinite(seconds) || seconds <= 0) {
    hc_log_str(HC_LOG_ERROR, "motion_light.set_timeout needs data {\"seconds\": <number above 0>}");
    return HC_INVALID_ARGUMENT;
  }
  off_after_s = seconds;
  char line[64];
  hc_writer w = hc_writer_init(line, sizeof line);
  hc_w_raw(&w, (hc_json){"off_after_s is now ", 19});
  hc_w_f64(&w, seconds);
  if (!w.overflow) hc_log(HC_LOG_INFO, line, w.len);
  return HC_OK;
}

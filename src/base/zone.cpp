#include "base/zone.h"

#include <chrono>
#include <string>

#include <date/tz.h>

namespace gs::time {
namespace {

using std::chrono::milliseconds;

Error tz_error(std::string_view tz) {
  return invalid("timezone",
                 "unknown IANA time zone '" + std::string(tz) + "' (e.g. Europe/Berlin, UTC)");
}

const date::time_zone* find_zone(std::string_view tz) {
  try {
    return date::locate_zone(std::string(tz));
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

bool valid_time_zone(std::string_view tz) { return find_zone(tz) != nullptr; }

Result<int64_t> start_of_day(int64_t d, std::string_view tz) {
  const date::time_zone* zone = find_zone(tz);
  if (!zone) return tz_error(tz);
  date::local_days local{date::days{d}};
  auto info = zone->get_info(local);
  date::sys_time<std::chrono::seconds> t;
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // midnight happened twice: the first
      t = date::sys_time<std::chrono::seconds>{local.time_since_epoch()} - info.first.offset;
      break;
    case date::local_info::nonexistent:  // midnight skipped: the day starts at the transition
      t = info.second.begin;
      break;
  }
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

Result<int64_t> local_date(int64_t t_ms, std::string_view tz) {
  const date::time_zone* zone = find_zone(tz);
  if (!zone) return tz_error(tz);
  date::sys_time<milliseconds> t{milliseconds{t_ms}};
  auto local = zone->to_local(t);
  return date::floor<date::days>(local).time_since_epoch().count();
}

}  // namespace gs::time

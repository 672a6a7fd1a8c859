// Calendar days in IANA time zones (the system's tz database, through
// date/tz). Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace gs::time {

// True when `tz` names a time zone of the system's tz database.
bool valid_time_zone(std::string_view tz);

// Local midnight that starts calendar day `date` (days since 1970-01-01) in
// `tz`, in UTC ms. Where midnight does not exist (a DST gap), the first
// instant of the day. Error (field "timezone") for an unknown zone.
Result<int64_t> start_of_day(int64_t date, std::string_view tz);

// The calendar date (days since 1970-01-01) in `tz` at UTC instant `t_ms`.
Result<int64_t> local_date(int64_t t_ms, std::string_view tz);

}  // namespace gs::time

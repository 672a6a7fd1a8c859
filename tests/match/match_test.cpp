// Table-driven tests for the conversion-goal matcher (docs/matching.md,
// docs/matching.md). Each row is a definition, an event and the expected
// outcome; the error table pins the `field` the API reports for a 422.
#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "match/glob.h"
#include "match/match.h"
#include "match/value.h"

namespace {

using gs::match::EventView;
using gs::match::Matcher;

// Splits a definition document into compile()'s arguments.
gs::Result<Matcher> compile_def(const std::string& text) {
  const auto def = nlohmann::json::parse(text);
  std::optional<std::string> url_pattern;
  if (def.contains("urlPattern")) url_pattern = def["urlPattern"].get<std::string>();
  const nlohmann::json conditions =
      def.contains("conditions") ? def["conditions"] : nlohmann::json();
  return Matcher::compile(def.value("eventType", ""), url_pattern, conditions);
}

// Parses an event the way the ingest path does and builds its EventView.
bool run(const Matcher& m, const std::string& event_text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(event_text);
  EventView view;
  view.type = doc["type"].get_string().value();
  std::string_view url;
  if (!doc["url"].get_string().get(url)) view.url = url;
  simdjson::dom::element props;
  if (!doc["properties"].get(props)) view.properties = props;
  return m.matches(view);
}

struct Case {
  const char* name;
  const char* def;
  const char* event;
  bool expected;
};

// clang-format off
const std::vector<Case> kCases = {
  // --- eventType -------------------------------------------------------------
  {"type equal", R"({"eventType":"signup"})", R"({"type":"signup"})", true},
  {"type differs", R"({"eventType":"signup"})", R"({"type":"login"})", false},
  {"type is case-sensitive", R"({"eventType":"signup"})", R"({"type":"Signup"})", false},
  {"type is not a prefix match", R"({"eventType":"sign"})", R"({"type":"signup"})", false},
  {"no urlPattern ignores url", R"({"eventType":"v"})", R"({"type":"v","url":"https://x.com/a"})", true},

  // --- path patterns: exact ----------------------------------------------------
  {"path exact", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/pricing"})", true},
  {"path exact: extra trailing slash in url", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/pricing/"})", false},
  {"path exact: trailing slash in pattern", R"({"eventType":"v","urlPattern":"/pricing/"})", R"({"type":"v","url":"https://ex.com/pricing"})", false},
  {"path exact: both trailing slash", R"({"eventType":"v","urlPattern":"/pricing/"})", R"({"type":"v","url":"https://ex.com/pricing/"})", true},
  {"path ignores query", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/pricing?plan=pro"})", true},
  {"path ignores fragment", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/pricing#faq"})", true},
  {"path ignores query and fragment", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/pricing?a=1#faq"})", true},
  {"path: url is just a path", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"/pricing"})", true},
  {"path: url is a path with query", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"/pricing?a=/b"})", true},
  {"path: url without scheme", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"ex.com/pricing"})", true},
  {"path: url without scheme, other path", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"ex.com/pricing/eu"})", false},
  {"path: host only is /", R"({"eventType":"v","urlPattern":"/"})", R"({"type":"v","url":"https://ex.com"})", true},
  {"path: host and query is /", R"({"eventType":"v","urlPattern":"/"})", R"({"type":"v","url":"https://ex.com?next=/pricing"})", true},
  {"path: scheme-less host only is /", R"({"eventType":"v","urlPattern":"/"})", R"({"type":"v","url":"ex.com"})", true},
  {"path: port and userinfo skipped", R"({"eventType":"v","urlPattern":"/a"})", R"({"type":"v","url":"https://u:p@ex.com:8443/a"})", true},
  {"path is case-sensitive", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/Pricing"})", false},
  {"path exact is not a suffix match", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/en/pricing"})", false},
  {"path pattern never sees the host", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://pricing.com/"})", false},
  {"path pattern never sees the query", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v","url":"https://ex.com/?r=/pricing"})", false},
  {"path is not percent-decoded", R"({"eventType":"v","urlPattern":"/a%20b"})", R"({"type":"v","url":"https://ex.com/a%20b"})", true},
  {"path: decoded pattern does not match encoded url", R"({"eventType":"v","urlPattern":"/a b"})", R"({"type":"v","url":"https://ex.com/a%20b"})", false},
  {"path: no url in event", R"({"eventType":"v","urlPattern":"/pricing"})", R"({"type":"v"})", false},

  // --- path globs: * -----------------------------------------------------------
  {"* one segment", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"/blog/post-1"})", true},
  {"* is never empty", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"/blog/"})", false},
  {"* needs the slash before it", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"/blog"})", false},
  {"* does not cross /", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"/blog/a/b"})", false},
  {"* then trailing slash is another segment", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"https://ex.com/blog/hello/"})", false},
  {"* with query string", R"({"eventType":"v","urlPattern":"/blog/*"})", R"({"type":"v","url":"https://ex.com/blog/hello?utm=x"})", true},
  {"* in the middle", R"({"eventType":"v","urlPattern":"/blog/*/comments"})", R"({"type":"v","url":"/blog/x/comments"})", true},
  {"* in the middle is never empty", R"({"eventType":"v","urlPattern":"/blog/*/comments"})", R"({"type":"v","url":"/blog//comments"})", false},
  {"* in the middle does not cross /", R"({"eventType":"v","urlPattern":"/blog/*/comments"})", R"({"type":"v","url":"/blog/x/y/comments"})", false},
  {"* part of a segment", R"({"eventType":"v","urlPattern":"/post-*"})", R"({"type":"v","url":"/post-42"})", true},
  {"* part of a segment, empty", R"({"eventType":"v","urlPattern":"/post-*"})", R"({"type":"v","url":"/post-"})", false},
  {"* with suffix", R"({"eventType":"v","urlPattern":"/*.html"})", R"({"type":"v","url":"/index.html"})", true},
  {"* with suffix, deeper path", R"({"eventType":"v","urlPattern":"/*.html"})", R"({"type":"v","url":"/a/index.html"})", false},
  {"two * in one segment", R"({"eventType":"v","urlPattern":"/*-*"})", R"({"type":"v","url":"/a-b-c"})", true},

  // --- path globs: ** ----------------------------------------------------------
  {"/** matches the bare prefix", R"({"eventType":"v","urlPattern":"/blog/**"})", R"({"type":"v","url":"/blog"})", true},
  {"/** matches prefix with slash", R"({"eventType":"v","urlPattern":"/blog/**"})", R"({"type":"v","url":"/blog/"})", true},
  {"/** matches any depth", R"({"eventType":"v","urlPattern":"/blog/**"})", R"({"type":"v","url":"https://ex.com/blog/a/b/c?x=1"})", true},
  {"/** does not match a longer segment", R"({"eventType":"v","urlPattern":"/blog/**"})", R"({"type":"v","url":"/blogs"})", false},
  {"/** does not match a sibling", R"({"eventType":"v","urlPattern":"/blog/**"})", R"({"type":"v","url":"/blog-x/a"})", false},
  {"/**/ zero segments", R"({"eventType":"v","urlPattern":"/a/**/b"})", R"({"type":"v","url":"/a/b"})", true},
  {"/**/ several segments", R"({"eventType":"v","urlPattern":"/a/**/b"})", R"({"type":"v","url":"/a/x/y/b"})", true},
  {"/**/ keeps the segment boundary", R"({"eventType":"v","urlPattern":"/a/**/b"})", R"({"type":"v","url":"/a/xb"})", false},
  {"leading /**/", R"({"eventType":"v","urlPattern":"/**/checkout"})", R"({"type":"v","url":"/checkout"})", true},
  {"leading /**/ deep", R"({"eventType":"v","urlPattern":"/**/checkout"})", R"({"type":"v","url":"/shop/eu/checkout"})", true},
  {"leading /**/ is not a prefix match", R"({"eventType":"v","urlPattern":"/**/checkout"})", R"({"type":"v","url":"/checkouts"})", false},
  {"/** alone matches a bare host", R"({"eventType":"v","urlPattern":"/**"})", R"({"type":"v","url":"https://ex.com"})", true},
  {"/** alone matches anything", R"({"eventType":"v","urlPattern":"/**"})", R"({"type":"v","url":"/any/thing/at/all"})", true},
  {"** inside a segment crosses /", R"({"eventType":"v","urlPattern":"/docs/**.pdf"})", R"({"type":"v","url":"/docs/a/b/c.pdf"})", true},
  {"** inside a segment, wrong suffix", R"({"eventType":"v","urlPattern":"/docs/**.pdf"})", R"({"type":"v","url":"/docs/a.txt"})", false},
  {"/**/ before trailing slash, zero", R"({"eventType":"v","urlPattern":"/blog/**/"})", R"({"type":"v","url":"/blog/"})", true},
  {"/**/ before trailing slash, some", R"({"eventType":"v","urlPattern":"/blog/**/"})", R"({"type":"v","url":"/blog/a/"})", true},
  {"/**/ before trailing slash, none in url", R"({"eventType":"v","urlPattern":"/blog/**/"})", R"({"type":"v","url":"/blog/a"})", false},
  {"*** is **", R"({"eventType":"v","urlPattern":"/a/***"})", R"({"type":"v","url":"/a"})", true},
  {"glob: no url in event", R"({"eventType":"v","urlPattern":"/**"})", R"({"type":"v"})", false},

  // --- re: patterns ------------------------------------------------------------
  {"re: full match", R"({"eventType":"v","urlPattern":"re:https://ex\\.com/pricing"})", R"({"type":"v","url":"https://ex.com/pricing"})", true},
  {"re: is anchored at the end (query)", R"({"eventType":"v","urlPattern":"re:https://ex\\.com/pricing"})", R"({"type":"v","url":"https://ex.com/pricing?x=1"})", false},
  {"re: is anchored at the start", R"({"eventType":"v","urlPattern":"re:/pricing"})", R"({"type":"v","url":"https://ex.com/pricing"})", false},
  {"re: sees the query", R"({"eventType":"v","urlPattern":"re:.*[?&]utm_source=google(&.*)?"})", R"({"type":"v","url":"https://ex.com/?a=1&utm_source=google"})", true},
  {"re: sees the fragment", R"({"eventType":"v","urlPattern":"re:.*#top"})", R"({"type":"v","url":"https://ex.com/p#top"})", true},
  {"re: alternation is anchored as a whole", R"({"eventType":"v","urlPattern":"re:https://ex\\.com/a|https://ex\\.com/b"})", R"({"type":"v","url":"https://ex.com/bc"})", false},
  {"re: alternation matches", R"({"eventType":"v","urlPattern":"re:https://ex\\.com/(a|b)/?"})", R"({"type":"v","url":"https://ex.com/b"})", true},
  {"re: case-sensitive by default", R"({"eventType":"v","urlPattern":"re:https://EX\\.com/.*"})", R"({"type":"v","url":"https://ex.com/a"})", false},
  {"re: (?i) flag", R"({"eventType":"v","urlPattern":"re:(?i)https://EX\\.com/.*"})", R"({"type":"v","url":"https://ex.com/a"})", true},
  {"re: no url in event", R"({"eventType":"v","urlPattern":"re:.*"})", R"({"type":"v"})", false},
  {"re: .* matches an empty url", R"({"eventType":"v","urlPattern":"re:.*"})", R"({"type":"v","url":""})", true},

  // --- substring patterns --------------------------------------------------------
  {"substring in host", R"({"eventType":"v","urlPattern":"example.com"})", R"({"type":"v","url":"https://example.com/x"})", true},
  {"substring is case-sensitive", R"({"eventType":"v","urlPattern":"Example.com"})", R"({"type":"v","url":"https://example.com/x"})", false},
  {"substring in query", R"({"eventType":"v","urlPattern":"utm_source=ads"})", R"({"type":"v","url":"https://x.com/?utm_source=ads"})", true},
  {"substring absent", R"({"eventType":"v","urlPattern":"checkout"})", R"({"type":"v","url":"https://x.com/cart"})", false},
  {"substring: no url in event", R"({"eventType":"v","urlPattern":"checkout"})", R"({"type":"v"})", false},
  {"substring: * is literal", R"({"eventType":"v","urlPattern":"x.com/*"})", R"({"type":"v","url":"https://x.com/a"})", false},

  // --- plain values (equality) ---------------------------------------------------
  {"plain string equal", R"({"eventType":"e","conditions":{"plan":"pro"}})", R"({"type":"e","properties":{"plan":"pro"}})", true},
  {"plain string is case-sensitive", R"({"eventType":"e","conditions":{"plan":"pro"}})", R"({"type":"e","properties":{"plan":"Pro"}})", false},
  {"plain int equals int", R"({"eventType":"e","conditions":{"n":5}})", R"({"type":"e","properties":{"n":5}})", true},
  {"plain int equals float", R"({"eventType":"e","conditions":{"n":5}})", R"({"type":"e","properties":{"n":5.0}})", true},
  {"plain float equals int", R"({"eventType":"e","conditions":{"n":5.0}})", R"({"type":"e","properties":{"n":5}})", true},
  {"plain exponent equals int", R"({"eventType":"e","conditions":{"n":1e2}})", R"({"type":"e","properties":{"n":100}})", true},
  {"plain negative", R"({"eventType":"e","conditions":{"n":-3}})", R"({"type":"e","properties":{"n":-3.0}})", true},
  {"number never equals string", R"({"eventType":"e","conditions":{"n":5}})", R"({"type":"e","properties":{"n":"5"}})", false},
  {"string never equals number", R"({"eventType":"e","conditions":{"n":"5"}})", R"({"type":"e","properties":{"n":5}})", false},
  {"true equals true", R"({"eventType":"e","conditions":{"f":true}})", R"({"type":"e","properties":{"f":true}})", true},
  {"true never equals 1", R"({"eventType":"e","conditions":{"f":true}})", R"({"type":"e","properties":{"f":1}})", false},
  {"1 never equals true", R"({"eventType":"e","conditions":{"f":1}})", R"({"type":"e","properties":{"f":true}})", false},
  {"false never equals null", R"({"eventType":"e","conditions":{"f":false}})", R"({"type":"e","properties":{"f":null}})", false},
  {"null equals null", R"({"eventType":"e","conditions":{"x":null}})", R"({"type":"e","properties":{"x":null}})", true},
  {"null never equals missing", R"({"eventType":"e","conditions":{"x":null}})", R"({"type":"e","properties":{}})", false},
  {"null never equals 0", R"({"eventType":"e","conditions":{"x":null}})", R"({"type":"e","properties":{"x":0}})", false},
  {"plain array is deep equality", R"({"eventType":"e","conditions":{"t":["a","b"]}})", R"({"type":"e","properties":{"t":["a","b"]}})", true},
  {"plain array: order matters", R"({"eventType":"e","conditions":{"t":["a","b"]}})", R"({"type":"e","properties":{"t":["b","a"]}})", false},
  {"plain array is not membership", R"({"eventType":"e","conditions":{"t":["a","b"]}})", R"({"type":"e","properties":{"t":"a"}})", false},
  {"plain array: longer event array", R"({"eventType":"e","conditions":{"t":["a"]}})", R"({"type":"e","properties":{"t":["a","b"]}})", false},
  {"plain: missing property", R"({"eventType":"e","conditions":{"plan":"pro"}})", R"({"type":"e","properties":{"other":"pro"}})", false},
  {"plain: event without properties", R"({"eventType":"e","conditions":{"plan":"pro"}})", R"({"type":"e"})", false},
  {"2^53+1 is not 2^53 as double", R"({"eventType":"e","conditions":{"n":9007199254740993}})", R"({"type":"e","properties":{"n":9007199254740992.0}})", false},
  {"2^53 equals 2^53 as double", R"({"eventType":"e","conditions":{"n":9007199254740992}})", R"({"type":"e","properties":{"n":9007199254740992.0}})", true},
  {"uint64 max equals itself", R"({"eventType":"e","conditions":{"n":18446744073709551615}})", R"({"type":"e","properties":{"n":18446744073709551615}})", true},
  {"-1 is not uint64 max", R"({"eventType":"e","conditions":{"n":-1}})", R"({"type":"e","properties":{"n":18446744073709551615}})", false},
  {"int64 min equals itself", R"({"eventType":"e","conditions":{"n":-9223372036854775808}})", R"({"type":"e","properties":{"n":-9223372036854775808}})", true},
  {"fraction is not its truncation", R"({"eventType":"e","conditions":{"n":5}})", R"({"type":"e","properties":{"n":5.5}})", false},

  // --- property paths -------------------------------------------------------------
  {"nested path", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan":{"tier":"pro"}}})", true},
  {"nested path, other value", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan":{"tier":"free"}}})", false},
  {"literal dotted key", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan.tier":"pro"}})", true},
  {"literal dotted key wins (match)", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan":{"tier":"free"},"plan.tier":"pro"}})", true},
  {"literal dotted key wins (no match)", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan.tier":"free","plan":{"tier":"pro"}}})", false},
  {"path through a non-object", R"({"eventType":"e","conditions":{"plan.tier":"pro"}})", R"({"type":"e","properties":{"plan":"pro"}})", false},
  {"three-level path", R"({"eventType":"e","conditions":{"a.b.c":1}})", R"({"type":"e","properties":{"a":{"b":{"c":1}}}})", true},
  {"path does not index arrays", R"({"eventType":"e","conditions":{"items.0":"x"}})", R"({"type":"e","properties":{"items":["x"]}})", false},
  {"nested missing leaf, exists false", R"({"eventType":"e","conditions":{"plan.tier":{"exists":false}}})", R"({"type":"e","properties":{"plan":{}}})", true},
  {"properties not an object: all missing", R"({"eventType":"e","conditions":{"a":{"exists":false}}})", R"({"type":"e","properties":[1]})", true},

  // --- eq / neq -----------------------------------------------------------------
  {"eq string", R"({"eventType":"e","conditions":{"plan":{"eq":"pro"}}})", R"({"type":"e","properties":{"plan":"pro"}})", true},
  {"eq object, keys unordered, 2 == 2.0", R"({"eventType":"e","conditions":{"m":{"eq":{"a":1,"b":[1,2]}}}})", R"({"type":"e","properties":{"m":{"b":[1,2.0],"a":1}}})", true},
  {"eq object, extra key", R"({"eventType":"e","conditions":{"m":{"eq":{"a":1}}}})", R"({"type":"e","properties":{"m":{"a":1,"b":2}}})", false},
  {"eq object, missing key", R"({"eventType":"e","conditions":{"m":{"eq":{"a":1,"b":2}}}})", R"({"type":"e","properties":{"m":{"a":1}}})", false},
  {"eq empty object", R"({"eventType":"e","conditions":{"m":{"eq":{}}}})", R"({"type":"e","properties":{"m":{}}})", true},
  {"eq nested no coercion", R"({"eventType":"e","conditions":{"m":{"eq":{"a":[true]}}}})", R"({"type":"e","properties":{"m":{"a":[1]}}})", false},
  {"eq missing", R"({"eventType":"e","conditions":{"plan":{"eq":"pro"}}})", R"({"type":"e","properties":{}})", false},
  {"eq null with null", R"({"eventType":"e","conditions":{"x":{"eq":null}}})", R"({"type":"e","properties":{"x":null}})", true},
  {"neq different", R"({"eventType":"e","conditions":{"plan":{"neq":"pro"}}})", R"({"type":"e","properties":{"plan":"free"}})", true},
  {"neq equal", R"({"eventType":"e","conditions":{"plan":{"neq":"pro"}}})", R"({"type":"e","properties":{"plan":"pro"}})", false},
  {"neq missing holds", R"({"eventType":"e","conditions":{"plan":{"neq":"pro"}}})", R"({"type":"e","properties":{}})", true},
  {"neq missing holds without properties", R"({"eventType":"e","conditions":{"plan":{"neq":"pro"}}})", R"({"type":"e"})", true},
  {"neq across types holds", R"({"eventType":"e","conditions":{"n":{"neq":5}}})", R"({"type":"e","properties":{"n":"5"}})", true},
  {"neq 5 vs 5.0", R"({"eventType":"e","conditions":{"n":{"neq":5}}})", R"({"type":"e","properties":{"n":5.0}})", false},
  {"neq null with null", R"({"eventType":"e","conditions":{"x":{"neq":null}}})", R"({"type":"e","properties":{"x":null}})", false},

  // --- in / nin -----------------------------------------------------------------
  {"in hit", R"({"eventType":"e","conditions":{"plan":{"in":["pro","team"]}}})", R"({"type":"e","properties":{"plan":"team"}})", true},
  {"in miss", R"({"eventType":"e","conditions":{"plan":{"in":["pro","team"]}}})", R"({"type":"e","properties":{"plan":"free"}})", false},
  {"in missing", R"({"eventType":"e","conditions":{"plan":{"in":["pro"]}}})", R"({"type":"e","properties":{}})", false},
  {"in numbers across representations", R"({"eventType":"e","conditions":{"n":{"in":[1,2,3]}}})", R"({"type":"e","properties":{"n":2.0}})", true},
  {"in no coercion", R"({"eventType":"e","conditions":{"n":{"in":["1"]}}})", R"({"type":"e","properties":{"n":1}})", false},
  {"in null", R"({"eventType":"e","conditions":{"x":{"in":[null,"a"]}}})", R"({"type":"e","properties":{"x":null}})", true},
  {"in mixed types", R"({"eventType":"e","conditions":{"x":{"in":["a",true,[1]]}}})", R"({"type":"e","properties":{"x":[1]}})", true},
  {"in empty array", R"({"eventType":"e","conditions":{"x":{"in":[]}}})", R"({"type":"e","properties":{"x":"a"}})", false},
  {"nin miss holds", R"({"eventType":"e","conditions":{"plan":{"nin":["free"]}}})", R"({"type":"e","properties":{"plan":"pro"}})", true},
  {"nin hit", R"({"eventType":"e","conditions":{"plan":{"nin":["free"]}}})", R"({"type":"e","properties":{"plan":"free"}})", false},
  {"nin missing holds", R"({"eventType":"e","conditions":{"plan":{"nin":["free"]}}})", R"({"type":"e","properties":{}})", true},
  {"nin numbers across representations", R"({"eventType":"e","conditions":{"n":{"nin":[5]}}})", R"({"type":"e","properties":{"n":5.0}})", false},
  {"nin empty array", R"({"eventType":"e","conditions":{"x":{"nin":[]}}})", R"({"type":"e","properties":{"x":"a"}})", true},

  // --- contains / icontains -------------------------------------------------------
  {"contains substring", R"({"eventType":"e","conditions":{"p":{"contains":"pro"}}})", R"({"type":"e","properties":{"p":"professional"}})", true},
  {"contains is case-sensitive", R"({"eventType":"e","conditions":{"p":{"contains":"Pro"}}})", R"({"type":"e","properties":{"p":"professional"}})", false},
  {"contains array element", R"({"eventType":"e","conditions":{"t":{"contains":"vip"}}})", R"({"type":"e","properties":{"t":["a","vip"]}})", true},
  {"contains array element is exact", R"({"eventType":"e","conditions":{"t":{"contains":"vip"}}})", R"({"type":"e","properties":{"t":["a","VIP","vipx"]}})", false},
  {"contains number in array", R"({"eventType":"e","conditions":{"t":{"contains":3}}})", R"({"type":"e","properties":{"t":[1,2,3.0]}})", true},
  {"contains on a number property", R"({"eventType":"e","conditions":{"n":{"contains":"1"}}})", R"({"type":"e","properties":{"n":12}})", false},
  {"contains number in string: no coercion", R"({"eventType":"e","conditions":{"s":{"contains":5}}})", R"({"type":"e","properties":{"s":"12345"}})", false},
  {"contains missing", R"({"eventType":"e","conditions":{"s":{"contains":"a"}}})", R"({"type":"e","properties":{}})", false},
  {"icontains ascii case", R"({"eventType":"e","conditions":{"s":{"icontains":"PRO"}}})", R"({"type":"e","properties":{"s":"my Professional plan"}})", true},
  {"icontains miss", R"({"eventType":"e","conditions":{"s":{"icontains":"team"}}})", R"({"type":"e","properties":{"s":"my Professional plan"}})", false},
  {"icontains on a number", R"({"eventType":"e","conditions":{"s":{"icontains":"5"}}})", R"({"type":"e","properties":{"s":5}})", false},
  {"icontains on an array", R"({"eventType":"e","conditions":{"s":{"icontains":"x"}}})", R"({"type":"e","properties":{"s":["X"]}})", false},
  {"icontains is ASCII only", R"({"eventType":"e","conditions":{"s":{"icontains":"É"}}})", R"({"type":"e","properties":{"s":"é"}})", false},
  {"icontains missing", R"({"eventType":"e","conditions":{"s":{"icontains":"a"}}})", R"({"type":"e","properties":{}})", false},

  // --- regex ------------------------------------------------------------------------
  {"regex anchored by the author", R"({"eventType":"e","conditions":{"p":{"regex":"^ent"}}})", R"({"type":"e","properties":{"p":"enterprise"}})", true},
  {"regex is an unanchored search", R"({"eventType":"e","conditions":{"p":{"regex":"prise"}}})", R"({"type":"e","properties":{"p":"enterprise"}})", true},
  {"regex anchors respected", R"({"eventType":"e","conditions":{"p":{"regex":"^prise$"}}})", R"({"type":"e","properties":{"p":"enterprise"}})", false},
  {"regex case flag", R"({"eventType":"e","conditions":{"p":{"regex":"(?i)PRO"}}})", R"({"type":"e","properties":{"p":"pro"}})", true},
  {"regex on a number", R"({"eventType":"e","conditions":{"p":{"regex":"\\d+"}}})", R"({"type":"e","properties":{"p":123}})", false},
  {"regex missing", R"({"eventType":"e","conditions":{"p":{"regex":".*"}}})", R"({"type":"e","properties":{}})", false},

  // --- gt / gte / lt / lte ----------------------------------------------------------
  {"gt above", R"({"eventType":"e","conditions":{"n":{"gt":10}}})", R"({"type":"e","properties":{"n":11}})", true},
  {"gt equal", R"({"eventType":"e","conditions":{"n":{"gt":10}}})", R"({"type":"e","properties":{"n":10}})", false},
  {"gt fraction", R"({"eventType":"e","conditions":{"n":{"gt":10}}})", R"({"type":"e","properties":{"n":10.001}})", true},
  {"gte equal across representations", R"({"eventType":"e","conditions":{"n":{"gte":10}}})", R"({"type":"e","properties":{"n":10.0}})", true},
  {"lt fraction", R"({"eventType":"e","conditions":{"n":{"lt":10}}})", R"({"type":"e","properties":{"n":9.5}})", true},
  {"lt negative", R"({"eventType":"e","conditions":{"n":{"lt":0}}})", R"({"type":"e","properties":{"n":-0.5}})", true},
  {"lte equal", R"({"eventType":"e","conditions":{"n":{"lte":10}}})", R"({"type":"e","properties":{"n":10}})", true},
  {"lte above", R"({"eventType":"e","conditions":{"n":{"lte":10}}})", R"({"type":"e","properties":{"n":10.5}})", false},
  {"gt uint64 vs int64", R"({"eventType":"e","conditions":{"n":{"gt":9223372036854775807}}})", R"({"type":"e","properties":{"n":18446744073709551615}})", true},
  {"gt huge double vs uint64", R"({"eventType":"e","conditions":{"n":{"gt":18446744073709551615}}})", R"({"type":"e","properties":{"n":1e30}})", true},
  {"gt number vs string property", R"({"eventType":"e","conditions":{"n":{"gt":10}}})", R"({"type":"e","properties":{"n":"11"}})", false},
  {"gt number vs bool property", R"({"eventType":"e","conditions":{"n":{"gt":0}}})", R"({"type":"e","properties":{"n":true}})", false},
  {"gte number vs null property", R"({"eventType":"e","conditions":{"n":{"gte":0}}})", R"({"type":"e","properties":{"n":null}})", false},
  {"gt string: ISO dates", R"({"eventType":"e","conditions":{"d":{"gt":"2024-01-01"}}})", R"({"type":"e","properties":{"d":"2024-06-01T00:00:00Z"}})", true},
  {"lt string: ISO dates", R"({"eventType":"e","conditions":{"d":{"lt":"2024-01-01"}}})", R"({"type":"e","properties":{"d":"2023-12-31T23:59:59Z"}})", true},
  {"gt string vs number property", R"({"eventType":"e","conditions":{"d":{"gt":"2024"}}})", R"({"type":"e","properties":{"d":2025}})", false},
  {"gt string is byte-wise", R"({"eventType":"e","conditions":{"s":{"gt":"b"}}})", R"({"type":"e","properties":{"s":"B"}})", false},
  {"gte string prefix", R"({"eventType":"e","conditions":{"s":{"gte":"abc"}}})", R"({"type":"e","properties":{"s":"abcd"}})", true},
  {"gt missing", R"({"eventType":"e","conditions":{"n":{"gt":0}}})", R"({"type":"e","properties":{}})", false},
  {"lte missing", R"({"eventType":"e","conditions":{"n":{"lte":0}}})", R"({"type":"e"})", false},
  {"range inside", R"({"eventType":"e","conditions":{"n":{"gte":10,"lt":20}}})", R"({"type":"e","properties":{"n":15}})", true},
  {"range upper bound excluded", R"({"eventType":"e","conditions":{"n":{"gte":10,"lt":20}}})", R"({"type":"e","properties":{"n":20}})", false},

  // --- exists -------------------------------------------------------------------------
  {"exists true, present", R"({"eventType":"e","conditions":{"x":{"exists":true}}})", R"({"type":"e","properties":{"x":0}})", true},
  {"exists true, null counts", R"({"eventType":"e","conditions":{"x":{"exists":true}}})", R"({"type":"e","properties":{"x":null}})", true},
  {"exists true, missing", R"({"eventType":"e","conditions":{"x":{"exists":true}}})", R"({"type":"e","properties":{}})", false},
  {"exists false, missing", R"({"eventType":"e","conditions":{"x":{"exists":false}}})", R"({"type":"e","properties":{}})", true},
  {"exists false, present", R"({"eventType":"e","conditions":{"x":{"exists":false}}})", R"({"type":"e","properties":{"x":false}})", false},
  {"exists false, no properties", R"({"eventType":"e","conditions":{"x":{"exists":false}}})", R"({"type":"e"})", true},
  {"exists and eq together", R"({"eventType":"e","conditions":{"x":{"exists":true,"neq":"a"}}})", R"({"type":"e","properties":{"x":"b"}})", true},

  // --- combinations ---------------------------------------------------------------------
  {"all conditions hold", R"({"eventType":"e","conditions":{"a":1,"b":{"in":["x","y"]},"c.d":{"gt":0}}})", R"({"type":"e","properties":{"a":1,"b":"y","c":{"d":2}}})", true},
  {"one condition fails", R"({"eventType":"e","conditions":{"a":1,"b":{"in":["x","y"]},"c.d":{"gt":0}}})", R"({"type":"e","properties":{"a":1,"b":"z","c":{"d":2}}})", false},
  {"one operator of several fails", R"({"eventType":"e","conditions":{"s":{"contains":"a","regex":"^b"}}})", R"({"type":"e","properties":{"s":"cab"}})", false},
  {"type + url + conditions", R"({"eventType":"purchase","urlPattern":"/checkout/**","conditions":{"amount":{"gte":100},"currency":"EUR"}})", R"({"type":"purchase","url":"https://shop.ex/checkout/done?o=1","properties":{"amount":149.9,"currency":"EUR"}})", true},
  {"url fails, conditions hold", R"({"eventType":"purchase","urlPattern":"/checkout/**","conditions":{"currency":"EUR"}})", R"({"type":"purchase","url":"https://shop.ex/cart","properties":{"currency":"EUR"}})", false},
  {"type fails, rest holds", R"({"eventType":"purchase","urlPattern":"/checkout/**","conditions":{"currency":"EUR"}})", R"({"type":"refund","url":"https://shop.ex/checkout","properties":{"currency":"EUR"}})", false},
  {"conditions null", R"({"eventType":"e","conditions":null})", R"({"type":"e","properties":{"a":1}})", true},
  {"conditions empty object", R"({"eventType":"e","conditions":{}})", R"({"type":"e"})", true},
};
// clang-format on

struct ErrorCase {
  const char* name;
  const char* def;
  const char* field;
};

// clang-format off
const std::vector<ErrorCase> kErrors = {
  {"empty eventType", R"({"eventType":""})", "eventType"},
  {"missing eventType", R"({"urlPattern":"/a"})", "eventType"},
  {"empty urlPattern", R"({"eventType":"e","urlPattern":""})", "urlPattern"},
  {"bad RE2 in urlPattern", R"({"eventType":"e","urlPattern":"re:(abc"})", "urlPattern"},
  {"backreference is not RE2", R"({"eventType":"e","urlPattern":"re:(a)\\1"})", "urlPattern"},
  {"path pattern with query", R"({"eventType":"e","urlPattern":"/a?b=1"})", "urlPattern"},
  {"path pattern with fragment", R"({"eventType":"e","urlPattern":"/a#top"})", "urlPattern"},
  {"conditions a string", R"({"eventType":"e","conditions":"plan=pro"})", "conditions"},
  {"conditions an array", R"({"eventType":"e","conditions":[{"plan":"pro"}]})", "conditions"},
  {"conditions a bool", R"({"eventType":"e","conditions":true})", "conditions"},
  {"empty property path", R"({"eventType":"e","conditions":{"":1}})", "conditions"},
  {"empty path segment", R"({"eventType":"e","conditions":{"a..b":1}})", "conditions.a..b"},
  {"trailing dot in path", R"({"eventType":"e","conditions":{"a.":1}})", "conditions.a."},
  {"bad RE2 in a condition", R"({"eventType":"e","conditions":{"plan":{"regex":"(abc"}}})", "conditions.plan.regex"},
  {"bad RE2 under a dotted path", R"({"eventType":"e","conditions":{"plan.tier":{"regex":"[a-"}}})", "conditions.plan.tier.regex"},
  {"regex operand not a string", R"({"eventType":"e","conditions":{"x":{"regex":5}}})", "conditions.x.regex"},
  {"unknown operator", R"({"eventType":"e","conditions":{"plan":{"foo":1}}})", "conditions.plan.foo"},
  {"unknown operator beside a valid one", R"({"eventType":"e","conditions":{"x":{"eq":1,"bogus":2}}})", "conditions.x.bogus"},
  {"operators are case-sensitive", R"({"eventType":"e","conditions":{"x":{"EQ":1}}})", "conditions.x.EQ"},
  {"object value that is not operators", R"({"eventType":"e","conditions":{"m":{"a":1}}})", "conditions.m.a"},
  {"empty operator object", R"({"eventType":"e","conditions":{"x":{}}})", "conditions.x"},
  {"in with a string", R"({"eventType":"e","conditions":{"plan":{"in":"pro"}}})", "conditions.plan.in"},
  {"in with null", R"({"eventType":"e","conditions":{"plan":{"in":null}}})", "conditions.plan.in"},
  {"nin with an object", R"({"eventType":"e","conditions":{"plan":{"nin":{"a":1}}}})", "conditions.plan.nin"},
  {"gt with a bool", R"({"eventType":"e","conditions":{"n":{"gt":true}}})", "conditions.n.gt"},
  {"gte with null", R"({"eventType":"e","conditions":{"n":{"gte":null}}})", "conditions.n.gte"},
  {"lt with an array", R"({"eventType":"e","conditions":{"n":{"lt":[1]}}})", "conditions.n.lt"},
  {"lte with an object", R"({"eventType":"e","conditions":{"n":{"lte":{}}}})", "conditions.n.lte"},
  {"exists with a string", R"({"eventType":"e","conditions":{"x":{"exists":"yes"}}})", "conditions.x.exists"},
  {"exists with a number", R"({"eventType":"e","conditions":{"x":{"exists":1}}})", "conditions.x.exists"},
  {"icontains with a number", R"({"eventType":"e","conditions":{"x":{"icontains":5}}})", "conditions.x.icontains"},
};
// clang-format on

}  // namespace

TEST_CASE("match table") {
  CHECK(kCases.size() >= 60);
  for (const auto& c : kCases) {
    INFO("case: " << std::string(c.name));
    auto m = compile_def(c.def);
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    CHECK(run(*m, c.event) == c.expected);
  }
}

TEST_CASE("compile error table") {
  for (const auto& c : kErrors) {
    INFO("case: " << std::string(c.name));
    auto m = compile_def(c.def);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == gs::ErrorCode::invalid);
    CHECK(m.error().field == c.field);
    // Messages are sentences that start with the field they blame.
    CHECK(m.error().message.rfind(c.field, 0) == 0);
  }
}

TEST_CASE("compile error messages") {
  auto m = compile_def(R"({"eventType":"e","urlPattern":"re:(abc"})");
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message == "urlPattern: invalid RE2 regular expression: missing ): (abc");

  m = compile_def(R"({"eventType":"e","conditions":{"plan":{"foo":1}}})");
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("unknown operator \"foo\"") != std::string::npos);
}

TEST_CASE("size limits") {
  const std::string ok_path = "/" + std::string(gs::match::kMaxPatternLength - 1, 'a');
  CHECK(Matcher::compile("e", ok_path, nullptr).ok());
  auto long_path = Matcher::compile("e", ok_path + "a", nullptr);
  REQUIRE_FALSE(long_path.ok());
  CHECK(long_path.error().field == "urlPattern");

  // The largest globs still fit the matcher's fixed-size state sets.
  std::string star_glob = "/";
  std::string star_path = "/";
  for (int i = 0; i < 499; ++i) star_glob += "*/", star_path += "a/";
  star_glob += "x";
  star_path += "x";
  REQUIRE(star_glob.size() == gs::match::kMaxPatternLength);
  auto big_glob = gs::match::PathGlob::compile(star_glob);
  REQUIRE(big_glob.ok());
  CHECK(big_glob->matches(star_path));
  CHECK_FALSE(big_glob->matches(star_path + "x"));
  std::string dstar_glob;
  for (int i = 0; i < 333; ++i) dstar_glob += "/**";
  dstar_glob += "/";
  auto big_dstar = gs::match::PathGlob::compile(dstar_glob);
  REQUIRE(big_dstar.ok());
  CHECK(big_dstar->matches("/"));
  CHECK(big_dstar->matches("/a/b/"));
  CHECK_FALSE(big_dstar->matches("/a/b"));

  auto long_regex = Matcher::compile(
      "e", std::nullopt, {{"x", {{"regex", std::string(gs::match::kMaxPatternLength + 1, 'a')}}}});
  REQUIRE_FALSE(long_regex.ok());
  CHECK(long_regex.error().field == "conditions.x.regex");

  nlohmann::json fifty = nlohmann::json::object();
  for (int i = 0; i < 50; ++i) fifty["p" + std::to_string(i)] = i;
  CHECK(Matcher::compile("e", std::nullopt, fifty).ok());
  fifty["p50"] = 50;
  auto too_many = Matcher::compile("e", std::nullopt, fifty);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().field == "conditions");

  auto big_set = Matcher::compile("e", std::nullopt,
                                  {{"x", {{"in", nlohmann::json(std::vector<int>(1001, 1))}}}});
  REQUIRE_FALSE(big_set.ok());
  CHECK(big_set.error().field == "conditions.x.in");
}

TEST_CASE("url_path") {
  using gs::match::url_path;
  CHECK(url_path("https://x.com/a/b?q=1#f") == "/a/b");
  CHECK(url_path("https://x.com") == "/");
  CHECK(url_path("https://x.com?q=/a") == "/");
  CHECK(url_path("https://x.com#/a") == "/");
  CHECK(url_path("x.com/a") == "/a");
  CHECK(url_path("x.com") == "/");
  CHECK(url_path("/a?b") == "/a");
  CHECK(url_path("/a#b?c") == "/a");
  CHECK(url_path("/") == "/");
  CHECK(url_path("") == "/");
  CHECK(url_path("//cdn.x.com/a") == "//cdn.x.com/a");  // starts with '/': taken as a path
  CHECK(url_path("x.com/r?u=https://y.com/z") == "/r");
}

TEST_CASE("glob matching has no exponential blow-up") {
  // Classic backtracking killer: many stars against a long near-miss.
  auto m = Matcher::compile("v", std::string("/") + "*a*a*a*a*a*a*a*a*a*a*b", nullptr);
  REQUIRE(m.ok());
  const std::string url = "/" + std::string(4000, 'a');
  const std::string event = R"({"type":"v","url":")" + url + R"("})";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(run(*m, event));
  auto deep = Matcher::compile("v", "/**a**a**a**a**a**a**b", nullptr);
  REQUIRE(deep.ok());
  CHECK_FALSE(run(*deep, R"({"type":"v","url":"/)" + std::string(2000, 'a') +
                             std::string(2000, '/') + R"("})"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(2));
}

// Reference semantics for path globs, straight from docs/matching.md:
// backtracking with memoisation, fine for the short inputs below.
bool reference_glob(const std::string& p, const std::string& s) {
  std::vector<signed char> memo((p.size() + 1) * (s.size() + 1), -1);
  auto rec = [&](auto&& self, std::size_t i, std::size_t j) -> bool {
    signed char& m = memo[i * (s.size() + 1) + j];
    if (m >= 0) return m;
    bool r = false;
    auto stars = [&](std::size_t at) {
      std::size_t n = 0;
      while (at + n < p.size() && p[at + n] == '*') ++n;
      return n;
    };
    if (i == p.size()) {
      r = j == s.size();
    } else if (p[i] == '/' && stars(i + 1) >= 2 &&
               (i + 1 + stars(i + 1) == p.size() || p[i + 1 + stars(i + 1)] == '/')) {
      const std::size_t after = i + 1 + stars(i + 1);  // "/**": nothing, or '/' and anything
      r = self(self, after, j);
      if (!r && j < s.size() && s[j] == '/')
        for (std::size_t k = j + 1; k <= s.size() && !r; ++k) r = self(self, after, k);
    } else if (p[i] == '*' && stars(i) == 1) {  // one or more non-'/'
      for (std::size_t k = j + 1; k <= s.size() && s[k - 1] != '/' && !r; ++k)
        r = self(self, i + 1, k);
    } else if (p[i] == '*') {  // "**": anything
      for (std::size_t k = j; k <= s.size() && !r; ++k) r = self(self, i + stars(i), k);
    } else {
      r = j < s.size() && s[j] == p[i] && self(self, i + 1, j + 1);
    }
    m = r;
    return r;
  };
  return rec(rec, 0, 0);
}

TEST_CASE("path globs agree with the reference semantics") {
  // Long literal prefixes push the glob states across 64-bit word boundaries.
  std::mt19937 rng(12345);
  auto pick = [&](const char* alphabet, std::size_t n) {
    std::string out;
    const std::size_t len = std::char_traits<char>::length(alphabet);
    for (std::size_t i = 0; i < n; ++i) out += alphabet[rng() % len];
    return out;
  };
  int mismatches = 0, matched = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const std::size_t prefix = rng() % 140;
    const std::string pattern = "/" + std::string(prefix, 'a') + pick("ab/**", rng() % 9);
    const std::size_t path_prefix = prefix + (rng() % 3) - 1 + (prefix == 0);
    const std::string path = "/" + std::string(path_prefix, 'a') + pick("ab//", rng() % 11);
    if (pattern.find_first_of("?#") != std::string::npos) continue;
    auto glob = gs::match::PathGlob::compile(pattern);
    REQUIRE(glob.ok());
    const bool expected = reference_glob(pattern, path);
    matched += expected;
    if (glob->matches(path) != expected) {
      ++mismatches;
      INFO("pattern " << pattern << " path " << path);
      CHECK(glob->matches(path) == expected);
      if (mismatches > 5) break;
    }
  }
  CHECK(mismatches == 0);
  CHECK(matched > 500);  // the generator must exercise both outcomes
}

TEST_CASE("number comparison is exact") {
  using gs::match::detail::compare;
  using gs::match::detail::Number;
  const Number big_int{true, (__int128(1) << 53) + 1, 0};
  const Number big_double{false, 0, 9007199254740992.0};
  CHECK(compare(big_int, big_double) == std::partial_ordering::greater);
  CHECK(compare(big_double, big_int) == std::partial_ordering::less);
  CHECK(compare(Number{true, 5, 0}, Number{false, 0, 5.0}) == std::partial_ordering::equivalent);
  CHECK(compare(Number{true, -5, 0}, Number{false, 0, -5.5}) == std::partial_ordering::greater);
  CHECK(compare(Number{true, 0, 0}, Number{false, 0, 1e300}) == std::partial_ordering::less);
  CHECK(compare(Number{true, 0, 0}, Number{false, 0, -1e300}) == std::partial_ordering::greater);
}

TEST_CASE("a compiled matcher can be moved and queried") {
  auto m = compile_def(R"({"eventType":"signup","conditions":{"plan":"pro"}})");
  REQUIRE(m.ok());
  Matcher moved = std::move(m).value();
  CHECK(moved.event_type() == "signup");
  CHECK(run(moved, R"({"type":"signup","properties":{"plan":"pro"}})"));
}

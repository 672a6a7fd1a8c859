// Event validation (docs/architecture.md#topics) held to schemas/event.schema.json, and the
// conversion-goal request and command parsers.
#include <doctest/doctest.h>

#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "model/command.h"
#include "model/event.h"
#include "modules/all.h"
#include "modules/conversion/model.h"

using nlohmann::json;

namespace {

const valijson::Schema& event_schema() {
  static valijson::Schema* schema = [] {
    std::ifstream in(GOALSTREAM_SCHEMAS "/event.schema.json");
    REQUIRE(in.good());
    json doc = json::parse(in);
    auto* s = new valijson::Schema();
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *s);
    return s;
  }();
  return *schema;
}

bool schema_accepts(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return false;
  valijson::Validator v;
  valijson::adapters::NlohmannJsonAdapter adapter(doc);
  return v.validate(event_schema(), adapter, nullptr);
}

struct Case {
  const char* name;
  std::string json;
  const char* field;  // nullptr: valid
};

const std::string base =
    R"("event_id":"e1","tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z")";
std::string ev(const std::string& extra) {
  return "{" + base + (extra.empty() ? "" : "," + extra) + "}";
}

}  // namespace

// A call_outcome event with `results` as its goal_results.
std::string call(const std::string& results) {
  return R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","call_id":"c","goal_results":[)" +
         results + "]}";
}
std::string many_results(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += (i ? "," : "") + std::string(R"({"goal_id":"g)") + std::to_string(i) +
           R"(","achieved":true})";
  return out;
}

TEST_CASE("event validation agrees with schemas/event.schema.json and names the field") {
  std::vector<Case> cases = {
      {"minimal", ev(""), nullptr},
      {"full",
       ev(R"("subject_id":"u1","url":"https://a.com/x","properties":{"plan":"pro","value":49.0}, "extra":1)"),
       nullptr},
      {"offset timestamp",
       R"({"event_id":"e","tenant_id":"t","type":"x","timestamp":"2025-03-01T12:00:00.123+02:00"})",
       nullptr},
      {"call_outcome",
       R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","call_id":"c1","channel_id":"ch","goal_results":[{"goal_id":"g","achieved":true}]})",
       nullptr},
      {"todo_completed",
       R"({"event_id":"c","tenant_id":"t","type":"todo_completed","timestamp":"2025-03-01T12:00:00Z","goal_id":"g","node_id":"n"})",
       nullptr},
      {"not an object", "[1,2]", ""},
      {"not json", "{", ""},
      {"missing event_id",
       R"({"tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z"})",
       "event_id"},
      {"empty event_id",
       R"({"event_id":"","tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z"})",
       "event_id"},
      {"numeric event_id",
       R"({"event_id":5,"tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z"})",
       "event_id"},
      {"missing tenant",
       R"({"event_id":"e","type":"form_submit","timestamp":"2025-03-01T12:00:00Z"})", "tenant_id"},
      {"bad tenant",
       R"({"event_id":"e","tenant_id":"a b","type":"form_submit","timestamp":"2025-03-01T12:00:00Z"})",
       "tenant_id"},
      {"missing type", R"({"event_id":"e","tenant_id":"a","timestamp":"2025-03-01T12:00:00Z"})",
       "type"},
      {"uppercase type",
       R"({"event_id":"e","tenant_id":"a","type":"Form","timestamp":"2025-03-01T12:00:00Z"})",
       "type"},
      {"missing timestamp", R"({"event_id":"e","tenant_id":"a","type":"x"})", "timestamp"},
      {"timestamp without zone",
       R"({"event_id":"e","tenant_id":"a","type":"x","timestamp":"2025-03-01T12:00:00"})",
       "timestamp"},
      {"date only timestamp",
       R"({"event_id":"e","tenant_id":"a","type":"x","timestamp":"2025-03-01"})", "timestamp"},
      {"numeric timestamp", R"({"event_id":"e","tenant_id":"a","type":"x","timestamp":1740830400})",
       "timestamp"},
      {"subject not string", ev(R"("subject_id":42)"), "subject_id"},
      {"url not string", ev(R"("url":["a"])"), "url"},
      {"properties array", ev(R"("properties":[1])"), "properties"},
      {"properties string", ev(R"("properties":"x")"), "properties"},
      {"call_outcome without call_id",
       R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","goal_results":[]})",
       "call_id"},
      {"call_outcome without goal_results",
       R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","call_id":"c"})",
       "goal_results"},
      {"goal_results item without achieved or verdict",
       R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","call_id":"c","goal_results":[{"goal_id":"g"}]})",
       "goal_results[0].verdict"},
      {"verdicts",
       call(
           R"({"goal_id":"g1","verdict":"unknown"},{"goal_id":"g2","verdict":"not_applicable"},{"goal_id":"g3","verdict":"failure","achieved":false},{"goal_id":"g4","achieved":true,"verdict":"success"})"),
       nullptr},
      {"unknown verdict", call(R"({"goal_id":"g","verdict":"maybe"})"), "goal_results[0].verdict"},
      {"verdict not a string", call(R"({"goal_id":"g","verdict":true})"),
       "goal_results[0].verdict"},
      {"verdict disagrees with achieved",
       call(
           R"({"goal_id":"g","verdict":"success"},{"goal_id":"h","achieved":true,"verdict":"failure"})"),
       "goal_results[1].verdict"},
      {"too many goal_results", call(many_results(101)), "goal_results"},
      {"100 goal_results", call(many_results(100)), nullptr},
      {"channel_id with a space", ev(R"("channel_id":"web chat")"), "channel_id"},
      {"achieved not bool",
       R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a","call_id":"c","goal_results":[{"goal_id":"g","achieved":"yes"}]})",
       "goal_results[0].achieved"},
      {"todo without node",
       R"({"event_id":"c","tenant_id":"t","type":"todo_completed","timestamp":"2025-03-01T12:00:00Z","goal_id":"g"})",
       "node_id"},
      {"todo_reopened",
       R"({"event_id":"c","tenant_id":"t","type":"todo_reopened","timestamp":"2025-03-01T12:00:00Z","goal_id":"g","node_id":"n"})",
       nullptr},
      {"reopened todo without goal",
       R"({"event_id":"c","tenant_id":"t","type":"todo_reopened","timestamp":"2025-03-01T12:00:00Z","node_id":"n"})",
       "goal_id"},
      {"reopened todo with an empty node",
       R"({"event_id":"c","tenant_id":"t","type":"todo_reopened","timestamp":"2025-03-01T12:00:00Z","goal_id":"g","node_id":""})",
       "node_id"},
      {"agent_id empty on any type", ev(R"("agent_id":"")"), "agent_id"},
      // Integers beyond int64/uint64 are JSON; the schema allows them anywhere.
      {"20-digit order number",
       ev(R"("properties":{"order_no":12345678901234567890123,"value":5})"), nullptr},
      {"big negative integer, nested", ev(R"("properties":{"a":{"b":[-99999999999999999999]}})"),
       nullptr},
      {"big integer outside properties", ev(R"("extra":18446744073709551616)"), nullptr},
      {"big integer and a bad member",
       ev(R"("properties":{"n":99999999999999999999},"subject_id":7)"), "subject_id"},
      {"leading zero", ev(R"("properties":{"n":01})"), ""},
      {"big integer in a broken document",
       R"({"event_id":"e1","properties":{"n":99999999999999999999},)", ""},
  };
  gs::model::EventParser parser(gs::modules::event_rules());
  for (auto& c : cases) {
    CAPTURE(c.name);
    auto r = parser.parse(c.json);
    CHECK(r.ok() == (c.field == nullptr));
    if (c.field && !r.ok()) CHECK(r.error().field == std::string(c.field));
    CHECK_MESSAGE(schema_accepts(c.json) == (c.field == nullptr),
                  "schema disagrees with the validator");
  }
}

TEST_CASE(
    "a goal listed twice in one call's goal_results is refused (which the schema cannot say)") {
  gs::model::EventParser parser(gs::modules::event_rules());
  auto r = parser.parse(
      call(R"({"goal_id":"g1","achieved":true},{"goal_id":"g1","verdict":"failure"})"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "goal_results[1].goal_id");
  CHECK(r.error().message == "goal g1 is listed twice");
}

TEST_CASE("event validation: semantic date checks beyond the schema's pattern") {
  gs::model::EventParser parser(gs::modules::event_rules());
  for (const char* t : {"2025-02-30T12:00:00Z", "2025-13-01T12:00:00Z", "2025-03-01T25:00:00Z",
                        "1969-12-31T23:59:59Z"}) {
    CAPTURE(t);
    auto r = parser.parse(R"({"event_id":"e","tenant_id":"a","type":"x","timestamp":")" +
                          std::string(t) + "\"}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "timestamp");
  }
  auto ok = parser.parse(
      R"({"event_id":"e","tenant_id":"a","type":"x","timestamp":"2025-03-01T12:00:00.5+01:30","properties":{"value":12.25}})");
  REQUIRE(ok.ok());
  CHECK(ok->timestamp_ms == 1740825000500LL);  // 10:30:00.5 UTC
  CHECK(ok->value == 12.25);
}

TEST_CASE(
    "integers beyond 64 bits read as the nearest double; everything else in the event is kept") {
  gs::model::EventParser parser(gs::modules::event_rules());
  // Keys escaped and repeated (the first wins), strings with escapes, numbers
  // as written, after a big integer forced the slow path.
  const std::string text =
      R"({"event_id":"e\"1","tenant_id":"acme","type":"purchase","timestamp":"2025-03-01T12:00:00Z",)"
      R"("event_id":"ignored","url":"/a\\b\u0001?q=\u00e9","properties":{"order_no":12345678901234567890123,)"
      R"("neg":-18446744073709551617,"value":49.10,"max":18446744073709551615,"min":-9223372036854775808,)"
      R"("list":[1,2.5e3,true,null,{"k":"v"}],"big_value":99999999999999999999}})";
  simdjson::dom::document doc;
  auto e = parser.parse(text, doc);
  REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error().message));
  CHECK(e->event_id == "e\"1");
  CHECK(*e->url == "/a\\b\x01?q=\xc3\xa9");
  CHECK(e->value == 49.1);
  auto props = *e->properties;
  CHECK(props["order_no"].value().type() == simdjson::dom::element_type::DOUBLE);
  CHECK(double(props["order_no"]) == 12345678901234567890123.0);
  CHECK(double(props["neg"]) == -18446744073709551617.0);
  CHECK(props["max"].value().type() == simdjson::dom::element_type::UINT64);
  CHECK(uint64_t(props["max"]) == 18446744073709551615ULL);
  CHECK(int64_t(props["min"]) == std::numeric_limits<int64_t>::min());
  CHECK(double(props["list"].at(1)) == 2500.0);
  CHECK(std::string_view(props["list"].at(4)["k"]) == "v");
  // A big integer as properties.value is a double; sums clamp it (projection.h).
  auto big = parser.parse(ev(R"("properties":{"value":99999999999999999999})"));
  REQUIRE(big.ok());
  CHECK(big->value == 1e20);
  // The common path is unchanged: a document without big integers.
  auto plain = parser.parse(ev(R"("properties":{"value":12.25})"));
  REQUIRE(plain.ok());
  CHECK(plain->value == 12.25);
  // Not JSON for any reader: the reason stays simdjson's.
  for (const char* bad :
       {R"("properties":{"n":1e400})", R"("properties":{"n":-})", R"("properties":{"n":00})"}) {
    CAPTURE(bad);
    auto r = parser.parse(ev(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "");
    CHECK(r.error().message == "not valid JSON: Problem while parsing a number");
  }
}

TEST_CASE("conversion goal request validation names the field") {
  struct R {
    const char* body;
    const char* field;
  };
  std::vector<R> cases = {
      {R"({"name":"Trial Signup","eventType":"form_submit","urlPattern":"/signup/complete"})",
       nullptr},
      {R"({"name":"x","eventType":"purchase","conditions":{"plan":"pro"},"since":"2025-03-01"})",
       nullptr},
      {R"({"name":"x","eventType":"purchase","urlPattern":null,"conditions":null})", nullptr},
      {R"([])", ""},
      {R"({"eventType":"form_submit"})", "name"},
      {R"({"name":"","eventType":"form_submit"})", "name"},
      {R"({"name":"x"})", "eventType"},
      {R"({"name":"x","eventType":7})", "eventType"},
      {R"({"name":"x","eventType":"form_submit","urlPattern":5})", "urlPattern"},
      {R"({"name":"x","eventType":"form_submit","urlPattern":""})", "urlPattern"},
      {R"({"name":"x","eventType":"form_submit","conditions":"plan=pro"})", "conditions"},
      {R"({"name":"x","eventType":"form_submit","since":"2025-02-30"})", "since"},
      {R"({"name":"x","eventType":"form_submit","target":5})", "target"},
  };
  for (auto& c : cases) {
    CAPTURE(c.body);
    auto r = gs::conversion::conversion_goal_from_request(json::parse(c.body));
    CHECK(r.ok() == (c.field == nullptr));
    if (c.field && !r.ok()) CHECK(r.error().field == std::string(c.field));
  }
  auto since = gs::conversion::conversion_goal_from_request(
      json::parse(R"({"name":"x","eventType":"a","since":"2025-03-01"})"));
  REQUIRE(since.ok());
  CHECK(*since->since_ms == 1740787200000LL);
}

TEST_CASE("commands round-trip and bad commands are refused with the field") {
  gs::conversion::ConversionGoal g{"cg_1",
                                   "acme",
                                   "Signup",
                                   "form_submit",
                                   std::string("/signup/*"),
                                   json{{"plan", "pro"}},
                                   std::nullopt,
                                   1740787200000LL};
  gs::model::Command c{"cmd_1", gs::conversion::command_type::conversion_goal_defined, "acme",
                       1740787200000LL, to_json(g)};
  auto back = gs::model::parse_command(gs::model::serialize(c));
  REQUIRE(back.ok());
  CHECK(back->type == "conversion_goal.defined");
  auto g2 = gs::conversion::conversion_goal_from_json(back->data, back->tenant_id);
  REQUIRE(g2.ok());
  CHECK(to_json(*g2) == to_json(g));
  CHECK(g2->tenant_id == "acme");

  CHECK(gs::model::parse_command("nope").error().field == "");
  CHECK(gs::model::parse_command(
            R"({"type":"x","tenant_id":"a","issued_at":"2025-03-01T00:00:00Z","data":{}})")
            .error()
            .field == "command_id");
  CHECK(
      gs::model::parse_command(
          R"({"command_id":"c","type":"x","tenant_id":"a b","issued_at":"2025-03-01T00:00:00Z","data":{}})")
          .error()
          .field == "tenant_id");
  CHECK(gs::model::parse_command(
            R"({"command_id":"c","type":"x","tenant_id":"a","issued_at":"2025-03-01T00:00:00Z"})")
            .error()
            .field == "data");
}

TEST_CASE(
    "a command carries its Idempotency-Key and request hash; without them it is serialized as "
    "before") {
  gs::model::Command c{"cmd_0123456789abcdef01234567",
                       gs::conversion::command_type::conversion_goal_deleted, "acme",
                       1740787200000LL, json{{"id", "cg_1"}}};
  static valijson::Schema* command_schema = [] {
    std::ifstream in(GOALSTREAM_SCHEMAS "/command.schema.json");
    auto doc = json::parse(in);
    auto* schema = new valijson::Schema();
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *schema);
    return schema;
  }();
  auto schema_accepts_command = [&](const std::string& text) {
    auto doc = json::parse(text);
    valijson::Validator v;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    return v.validate(*command_schema, adapter, nullptr);
  };
  auto plain = gs::model::serialize(c);
  CHECK(plain.find("idempotency_key") == std::string::npos);
  CHECK(plain.find("request_hash") == std::string::npos);
  CHECK(gs::model::parse_command(plain)->idempotency_key.empty());
  CHECK(schema_accepts_command(plain));

  c.idempotency_key = "8c1f6a52-1d0e-4d1b-9a55-0e2c1f3b7a10";
  c.request_hash = gs::model::sha256_hex("DELETE /api/conversion-goals/cg_1\n");
  auto back = gs::model::parse_command(gs::model::serialize(c));
  REQUIRE(back.ok());
  CHECK(back->idempotency_key == c.idempotency_key);
  CHECK(back->request_hash == c.request_hash);
  CHECK(schema_accepts_command(gs::model::serialize(c)));
  c.idempotency_key = "a b";
  CHECK_FALSE(schema_accepts_command(gs::model::serialize(c)));

  std::string head =
      R"({"command_id":"c","type":"x","tenant_id":"a","issued_at":"2025-03-01T00:00:00Z","data":{},)";
  CHECK(gs::model::parse_command(head + R"("idempotency_key":""})").error().field ==
        "idempotency_key");
  CHECK(gs::model::parse_command(head + R"("idempotency_key":"a b"})").error().field ==
        "idempotency_key");
  CHECK(gs::model::parse_command(head + R"("idempotency_key":7})").error().field ==
        "idempotency_key");
  CHECK(gs::model::parse_command(head + R"("request_hash":"ABC"})").error().field ==
        "request_hash");

  CHECK(gs::model::valid_idempotency_key("k"));
  CHECK(gs::model::valid_idempotency_key(std::string(255, '~')));
  CHECK_FALSE(gs::model::valid_idempotency_key(std::string(256, 'k')));
  CHECK_FALSE(gs::model::valid_idempotency_key("caf\xc3\xa9"));
  CHECK_FALSE(gs::model::valid_idempotency_key("tab\tkey"));
}

TEST_CASE("API keys are stored hashed") {
  auto secret = "gs_" + gs::model::random_hex(24);
  CHECK(secret.size() == 51);
  auto h = gs::model::sha256_hex(secret);
  CHECK(h.size() == 64);
  CHECK(h != secret);
  CHECK(gs::model::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("mutated events never crash the validator: each is accepted or refused with a reason") {
  const std::string seed =
      R"({"event_id":"c","tenant_id":"t","type":"call_outcome","timestamp":"2025-03-01T12:00:00.5+01:00","agent_id":"a","call_id":"c1","url":"https://a.com/x?y=1","goal_results":[{"goal_id":"g","achieved":true}],"properties":{"plan":{"tier":"pro"},"value":49.5,"tags":["a","b"]}})";
  gs::model::EventParser parser(gs::modules::event_rules());
  std::mt19937 rng(7);
  const char alphabet[] = "{}[]\":,\\0123456789.eE+-truefalsenul \x01\xff\xc3";
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seed;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % (sizeof alphabet - 1)];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 8);
          break;
        default:
          s.insert(pos, 1, alphabet[rng() % (sizeof alphabet - 1)]);
      }
    }
    auto r = parser.parse(s);
    if (r.ok()) {
      ++accepted;
      CHECK_FALSE(r->event_id.empty());
      CHECK(gs::model::valid_tenant_id(r->tenant_id));
    } else {
      ++refused;
      CHECK_FALSE(r.error().message.empty());
    }
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
}

TEST_CASE("conversion goal names follow the text rule; since stays within what formats back") {
  struct R {
    std::string body;
    const char* field;
    const char* message;
  };
  std::string euros;  // 200 characters of 3 bytes each
  for (int i = 0; i < 200; ++i) euros += "\xE2\x82\xAC";
  std::vector<R> cases = {
      {R"({"name":")" + euros + R"(","eventType":"a"})", nullptr, ""},
      {R"({"name":")" + euros + R"(x","eventType":"a"})", "name",
       "name: must be 1 to 200 characters (Unicode code points)"},
      {R"({"name":"   ","eventType":"a"})", "name", "name: must not be blank"},
      {R"({"name":"a\u0007b","eventType":"a"})", "name",
       "name: must not contain control characters (U+0000-U+001F, U+007F-U+009F)"},
      {R"({"name":"two\nlines","eventType":"a"})", "name",
       "name: must not contain control characters (U+0000-U+001F, U+007F-U+009F)"},
      // Year 10000 once in UTC: refused, not deadlettered later.
      {R"({"name":"x","eventType":"a","since":"9999-12-31T23:00:00-05:00"})", "since",
       "since: must be an ISO 8601 date (2025-03-01) or RFC 3339 date-time, from "
       "1970-01-01T00:00:00Z to "
       "9999-12-31T23:59:59.999Z once in UTC"},
      {R"({"name":"x","eventType":"a","since":"9999-12-31T23:59:59.999Z"})", nullptr, ""},
  };
  for (auto& c : cases) {
    CAPTURE(c.body);
    auto r = gs::conversion::conversion_goal_from_request(json::parse(c.body));
    REQUIRE(r.ok() == (c.field == nullptr));
    if (!c.field) {
      // What the API accepts, the processor reads back from the command.
      r->id = "cg_1";
      r->created_at_ms = 1740787200000LL;
      CHECK(gs::conversion::conversion_goal_from_json(to_json(*r), "acme").ok());
      continue;
    }
    CHECK(r.error().field == c.field);
    CHECK(r.error().field + ": " + r.error().message == c.message);
  }
}

TEST_CASE("a stored or commanded conversion goal that lacks a member is refused naming it") {
  json full = {{"id", "cg_1"},
               {"name", "Signups"},
               {"eventType", "form_submit"},
               {"createdAt", "2025-03-01T00:00:00Z"}};
  REQUIRE(gs::conversion::conversion_goal_from_json(full, "acme").ok());
  for (const char* name : {"id", "name", "eventType", "createdAt"}) {
    json j = full;
    j.erase(name);
    auto r = gs::conversion::conversion_goal_from_json(j, "acme");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == name);
    CHECK(r.error().message == "is required");
  }
  json j = full;
  j["urlPattern"] = 5;
  auto r = gs::conversion::conversion_goal_from_json(j, "acme");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "urlPattern");
  CHECK(r.error().message == "must be a string");
}

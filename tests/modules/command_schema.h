// Whether schemas/command.schema.json accepts a command: the payloads the
// modules write checked against the published schema (valijson).
#pragma once

#include <fstream>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "model/command.h"

namespace gs::test {

// Whether the schema accepts command `type` of tenant acme with `data`.
inline bool schema_accepts(const std::string& type, const nlohmann::json& data) {
  static valijson::Schema* schema = [] {
    std::ifstream in(GOALSTREAM_SCHEMAS "/command.schema.json");
    auto doc = nlohmann::json::parse(in);
    auto* s = new valijson::Schema();
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *s);
    return s;
  }();
  gs::model::Command cmd{"cmd_0123456789abcdef01234567", type, "acme", 1740787200000LL, data};
  auto doc = nlohmann::json::parse(gs::model::serialize(cmd));
  valijson::Validator v;
  valijson::adapters::NlohmannJsonAdapter adapter(doc);
  return v.validate(*schema, adapter, nullptr);
}

}  // namespace gs::test

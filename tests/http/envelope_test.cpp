// Both envelopes and pages: the reference shape that every route has today
// (its errors byte for byte as they always were), the {success, data,
// pagination} shape of agent goals, and limit/offset from the query.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "http/envelope.h"

using gs::http::agent_envelope;
using gs::http::ojson;
using gs::http::Page;
using gs::http::parse_page;
using gs::http::reference_envelope;

TEST_CASE("reference envelope: data as it is; errors as the reference has them") {
  const auto& e = reference_envelope();
  ojson list = ojson::array({1, 2, 3});
  CHECK(e.success(list).dump() == "[1,2,3]");
  CHECK(e.success(list, Page{0, 2, 3}).dump() == "[1,2,3]");  // no pagination in this shape
  CHECK(e.error("not_found", "no such resource", "").dump() ==
        R"({"error":"not_found","message":"no such resource"})");
  CHECK(e.error("bad_request", "path: is not valid", "path").dump() ==
        R"({"error":"bad_request","field":"path","message":"path: is not valid"})");
}

TEST_CASE("agent envelope: {success, data, pagination}; errors under error") {
  const auto& e = agent_envelope();
  CHECK(e.success(ojson{{"id", "g1"}}).dump() == R"({"success":true,"data":{"id":"g1"}})");
  CHECK(e.success(ojson::array({"a", "b"}), Page{2, 2, 5}).dump() ==
        R"({"success":true,"data":["a","b"],)"
        R"("pagination":{"total":5,"limit":2,"offset":2,"has_more":true}})");
  CHECK(e.success(ojson::array({"e"}), Page{4, 2, 5}).dump() ==
        R"({"success":true,"data":["e"],)"
        R"("pagination":{"total":5,"limit":2,"offset":4,"has_more":false}})");
  CHECK(e.error("validation_error", "limit: must be ...", "limit").dump() ==
        R"({"success":false,"error":{"code":"validation_error","message":"limit: must be ...",)"
        R"("field":"limit"}})");
  CHECK(e.error("not_found", "no such resource", "").dump() ==
        R"({"success":false,"error":{"code":"not_found","message":"no such resource"}})");
}

TEST_CASE("pages: limit and offset from the query, with clear errors naming the parameter") {
  auto p = parse_page({}, 20, 100);
  REQUIRE(p.ok());
  CHECK(p->limit == 20);
  CHECK(p->offset == 0);
  p = parse_page({{"limit", "100"}, {"offset", "40"}}, 20, 100);
  REQUIRE(p.ok());
  CHECK(p->limit == 100);
  CHECK(p->offset == 40);
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"limit", "0"},
           {"limit", "101"},
           {"limit", "-1"},
           {"limit", "+5"},
           {"limit", "1.5"},
           {"limit", ""},
           {"limit", "ten"},
           {"limit", "99999999999999999999"},
           {"offset", "-1"},
           {"offset", "2147483648"},
           {"offset", "3x"},
       }) {
    CAPTURE(name);
    CAPTURE(value);
    auto r = parse_page({{name, value}}, 20, 100);
    REQUIRE(!r.ok());
    CHECK(r.error().field == name);
    CHECK(r.error().message.find("whole number") != std::string::npos);
  }

  // The page's range in a list of `total`; has_more says whether a next page exists.
  Page page{10, 5, 12};
  CHECK(page.begin() == 10);
  CHECK(page.end() == 12);
  CHECK(!page.has_more());
  Page past{20, 5, 12};
  CHECK(past.begin() == 12);
  CHECK(past.end() == 12);
  CHECK(!past.has_more());
  CHECK(Page{0, 5, 12}.has_more());
}

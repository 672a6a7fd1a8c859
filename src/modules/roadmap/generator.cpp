// The template generator, the prompt, and reading a model's answer. The
// OpenAI-compatible client (Beast) is in openai_generator.cpp.
#include "modules/roadmap/generator.h"

#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/text.h"
#include "modules/roadmap/model.h"

namespace gs::roadmap {
namespace {

using json = nlohmann::json;

// `s` with control characters (C0, DEL, C1) replaced by spaces and outer
// ASCII spaces trimmed. `s` is valid UTF-8, so a C1 control is 0xC2 0x80-0x9F.
std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += ' ';
      ++i;
    } else {
      out += s[i];
    }
  }
  size_t b = out.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  return out.substr(b, out.find_last_not_of(' ') - b + 1);
}

// The first `max` code points of valid UTF-8 `s`; when it is longer, the
// first max - 1 and "…", so the result never splits a code point.
std::string clip(std::string_view s, size_t max) {
  if (text::code_points(s) <= max) return std::string(s);
  size_t cps = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (cps == max - 1) break;
    ++cps;
  }
  return std::string(s.substr(0, i)) + "\u2026";
}

// A label `before` + title + `after`, the title clipped to fit kMaxLabelChars.
std::string label(std::string_view before, const std::string& title, std::string_view after) {
  size_t room = kMaxLabelChars - text::code_points(before) - text::code_points(after);
  return std::string(before) + clip(title, room) + std::string(after);
}

struct Milestone {
  std::string label;
  std::string details;  // after kTemplateNotice
  const char* estimated_time;
  std::vector<std::string> resources;
};

class TemplateGenerator final : public Generator {
 public:
  std::string_view name() const override { return "template"; }

  Result<Roadmap> generate(const GenerationRequest& req, const Progress& progress) override {
    auto say = [&](std::string s) {
      if (progress) progress(std::move(s));
    };
    say("Using goalstream's built-in template generator (not an AI)");
    if (!text::valid_utf8(req.title)) return invalid("title", "must be valid UTF-8");
    if (req.description && !text::valid_utf8(*req.description))
      return invalid("description", "must be valid UTF-8");
    if (req.target_date && !text::valid_utf8(*req.target_date))
      return invalid("target_date", "must be valid UTF-8");
    std::string title = sanitize(req.title);
    if (title.empty()) title = "your goal";
    std::string by;  // " by <target date>" or nothing
    if (req.target_date && !sanitize(*req.target_date).empty())
      by = " by " + clip(sanitize(*req.target_date), kMaxTargetDateChars);
    say("Deriving 9 generic milestones from the title \"" + clip(title, 60) + "\"");

    std::string quoted = "\"" + clip(title, 300) + "\"";
    std::string define = "Write down what " + quoted + " means to you, why it matters, and how " +
                         "you will know you have reached it" + by + ".";
    if (req.description && !sanitize(*req.description).empty())
      define += " Your description: " + clip(sanitize(*req.description), 1000);
    const std::vector<Milestone> ms = {
        {label("Define the goal: ", title, ""), define, "1 day", {"A one-page goal statement"}},
        {label("Research what it takes: ", title, ""),
         "Find out how others reached a goal like this one: the skills, steps and usual "
         "obstacles.",
         "1 week",
         {"Books, courses or guides on the subject", "People who have done it"}},
        {"Take stock of your time and resources",
         "List the hours per week you can give, the money and tools you have, and what you "
         "still need.",
         "2 days",
         {}},
        {"Plan the milestones",
         "Turn the research and your means into a sequence of small, dated steps" + by +
             ", and put them in your calendar.",
         "2 days",
         {"A calendar or planner"}},
        {"Build the foundations",
         "Learn or set up the basics everything else rests on, before going deeper.",
         "2 to 4 weeks",
         {}},
        {"Practise regularly",
         "Work on it in short, regular sessions; keep a log of what you did.",
         "4 to 8 weeks",
         {"A habit tracker or journal"}},
        {"Get feedback",
         "Show your work to a mentor, a peer or a community and collect what to improve.",
         "2 to 4 weeks",
         {"A mentor, a study group or an online community"}},
        {"Review progress and adjust the plan",
         "Compare where you are with the plan; drop, add or reorder steps.",
         "1 day",
         {}},
        {label("Reach the goal: ", title, ""),
         "Finish the last steps" + by + ", then look back at what worked.",
         "1 to 2 weeks",
         {}},
    };
    // 1 -> {2, 3} -> 4 -> 5 -> {6, 7} -> 8 -> 9: two branches that join, twice.
    const std::pair<int, int> links[] = {{1, 2}, {1, 3}, {2, 4}, {3, 4}, {4, 5},
                                         {5, 6}, {5, 7}, {6, 8}, {7, 8}, {8, 9}};

    json j = {{"nodes", json::array()}, {"edges", json::array()}};
    for (size_t i = 0; i < ms.size(); ++i) {
      const Milestone& m = ms[i];
      j["nodes"].push_back({{"id", "node_" + std::to_string(i + 1)},
                            {"label", m.label},
                            {"details", std::string(kTemplateNotice) + " " + m.details},
                            {"estimated_time", m.estimated_time},
                            {"resources", m.resources}});
    }
    size_t n = 0;
    for (auto [s, t] : links)
      j["edges"].push_back({{"id", "edge_" + std::to_string(++n)},
                            {"source", "node_" + std::to_string(s)},
                            {"target", "node_" + std::to_string(t)}});
    say("Laying out the template roadmap: 9 milestones, 10 links");
    return roadmap_from_json(j, "roadmap");
  }
};

Error not_a_roadmap(std::string why, std::string field = {}) {
  return Error{ErrorCode::invalid, std::move(field),
               "the model's answer is not a roadmap: " + std::move(why)};
}

// The end (one past the closing '}') of the JSON object that opens at
// s[open], by counting braces outside strings; nullopt when it never closes.
std::optional<size_t> object_end(std::string_view s, size_t open) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::nullopt;
}

Result<Roadmap> parse(const json& j) {
  auto r = roadmap_from_json(j, "roadmap");
  if (!r) return not_a_roadmap(r.error().field + ": " + r.error().message, r.error().field);
  return r;
}

}  // namespace

std::unique_ptr<Generator> template_generator() { return std::make_unique<TemplateGenerator>(); }

std::string system_prompt() {
  auto n = [](size_t v) { return std::to_string(v); };
  return "You plan roadmaps for personal goals. Given a goal, answer with one JSON object and "
         "nothing else (no prose, no comments), of exactly this shape:\n"
         R"({"nodes":[{"id":"node_1","label":"...","details":"...","estimated_time":"...",)"
         R"("resources":["..."]}],"edges":[{"source":"node_1","target":"node_2"}]})"
         "\n"
         "Rules:\n"
         "- nodes: the milestones, 5 to 15 of them is typical, at most " +
         n(kMaxNodes) +
         ". Each has a unique id (node_1, node_2, ...: letters, digits, _ . : -, at most " +
         n(kMaxIdChars) + " characters) and a label (a short imperative step, at most " +
         n(kMaxLabelChars) + " characters).\n" + "- details (what to do and why, at most " +
         n(kMaxDetailsChars) +
         " characters), estimated_time (a text such as \"2 weeks\", at most " +
         n(kMaxEstimatedTimeChars) + " characters) and resources (at most " + n(kMaxResources) +
         " texts or URLs of at most " + n(kMaxResourceChars) + " characters each) are optional.\n" +
         "- edges: {\"source\": A, \"target\": B} means A must be done before B; at most " +
         n(kMaxEdges) +
         ". Both ends must be node ids; no edge from a node to itself, no two edges for the same "
         "pair, and no cycles: the graph is a DAG. Steps that can be done in parallel should "
         "branch and join.\n"
         "- Texts are plain, non-blank and hold no control characters (no line breaks). Do not "
         "send positions or other members.\n";
}

Result<Roadmap> roadmap_from_answer(std::string_view content) {
  std::optional<json> first_object;
  bool cut_off = false, unparsable = false;
  int tries = 0;
  // Top-level objects in order: a fence or prose around them is skipped.
  // Bounded so that an answer full of braces stays cheap.
  for (size_t i = content.find('{'); i != std::string_view::npos && tries < 64; ++tries) {
    auto end = object_end(content, i);
    if (!end) {
      cut_off = true;
      break;
    }
    json j = json::parse(content.substr(i, *end - i), nullptr, false);
    if (j.is_discarded()) {
      unparsable = true;
    } else {
      if (j.contains("nodes")) return parse(j);
      auto inner = j.find("roadmap");
      if (inner != j.end() && inner->is_object() && inner->contains("nodes")) return parse(*inner);
      if (!first_object) first_object = std::move(j);
    }
    i = content.find('{', *end);
  }
  if (first_object) return parse(*first_object);
  if (unparsable) return not_a_roadmap("its JSON object does not parse");
  if (cut_off)
    return not_a_roadmap("its JSON object is cut off after " + std::to_string(content.size()) +
                         " bytes");
  if (content.empty()) return not_a_roadmap("it is empty");
  std::string start = text::valid_utf8(content) ? clip(sanitize(content), 80) : "";
  return not_a_roadmap("it holds no JSON object (it begins \"" + start + "\")");
}

}  // namespace gs::roadmap

// Model loading: read, parse (with positions), --set overrides, defaults, validation.
// Parse errors and semantic errors share one shape, "FILE:LINE:COL: ...", so editors
// and CI logs can jump to the line whichever stage found the problem.
#include "sim/io/model_loader.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <regex>
#include <set>
#include <system_error>

#include "sim/core/errors.hpp"
#include "sim/io/model_limits.hpp"
#include "sim/io/model_overrides.hpp"
#include "sim/io/model_validate.hpp"
#include "sim/io/utf8.hpp"

namespace phaseless::io {
namespace {

namespace pb = google::protobuf;
namespace v1 = phaseless::v1;
namespace fs = std::filesystem;

// Rewords protobuf's parser messages so they name the allowed choices, as every
// other loader error does.
std::string clean_parse_message(const std::string& msg) {
  static const std::regex no_field(R"re(Message type "([\w.]+)" has no field named "(\w+)"\.?)re");
  static const std::regex bad_enum(R"re(Unknown enumeration value of "([^"]*)" for field "(\w+)"\.?)re");
  std::smatch mm;
  if (std::regex_match(msg, mm, no_field)) {
    const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(mm[1]);
    std::string out = "no field '" + mm[2].str() + "' in " + mm[1].str() + (d ? "; fields are: " + field_names(*d) : "");
    // A Model field met inside a nested block usually means that block was not closed.
    if (d != v1::Model::descriptor() && v1::Model::descriptor()->FindFieldByName(mm[2]) != nullptr) {
      out += " (" + mm[2].str() + " is a top-level field: is a closing '}' missing before it?)";
    }
    return out;
  }
  if (std::regex_match(msg, mm, bad_enum)) {
    // The message names only the field; the schema's enum fields have distinct
    // names, so searching the file finds the one enum to list.
    std::set<const pb::EnumDescriptor*> types;
    const pb::FileDescriptor& file = *v1::Model::descriptor()->file();
    for (int i = 0; i < file.message_type_count(); ++i) {
      const pb::FieldDescriptor* f = file.message_type(i)->FindFieldByName(mm[2]);
      if (f != nullptr && f->enum_type() != nullptr) types.insert(f->enum_type());
    }
    return "unknown value '" + mm[1].str() + "' for field '" + mm[2].str() + "'" +
           (types.size() == 1 ? "; allowed: " + enum_names(**types.begin()) : "");
  }
  // Protobuf rejects the '-' of a negative number only when the field is unsigned.
  if (msg == "Expected integer, got: -") return "expected an integer >= 0 (the field is unsigned), got '-'";
  std::string out = msg;
  if (!out.empty() && out.back() == '.') out.pop_back();
  // "Expected X, got: " with nothing after it: the tokenizer hit the end of the text.
  if (const auto got = out.rfind(", got: "); got != std::string::npos && got + 7 == out.size()) {
    out = out.substr(0, got) + " but the file ended; is a closing '}' missing?";
  }
  if (out.size() > 1 && std::isupper(static_cast<unsigned char>(out[0])) &&
      std::islower(static_cast<unsigned char>(out[1]))) {
    out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  }
  return out;
}

// Protobuf reports a bad field name at the token after it (the ':' or '{'); moving
// back to the name itself, when the message quotes it and the text confirms it, puts
// the cursor where the fix goes. Tabs make protobuf's columns differ from character
// offsets, so lines with tabs are left alone.
int field_name_column(const std::string& text, int line, int column, const std::string& msg) {
  std::size_t start = 0;
  for (int l = 0; l < line && start != std::string::npos; ++l) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos) return column;
  const std::string row = text.substr(start, text.find('\n', start) - start);
  if (row.find('\t') != std::string::npos || static_cast<std::size_t>(column) > row.size()) return column;
  std::size_t end = static_cast<std::size_t>(column);
  while (end > 0 && row[end - 1] == ' ') --end;
  static const std::regex quoted("\"(\\w+)\"");
  for (std::sregex_iterator it(msg.begin(), msg.end(), quoted), stop; it != stop; ++it) {
    const std::string name = (*it)[1];
    if (end >= name.size() && row.compare(end - name.size(), name.size(), name) == 0) {
      return static_cast<int>(end - name.size());
    }
  }
  return column;
}

class parse_errors : public pb::io::ErrorCollector {
 public:
  parse_errors(std::string file, const std::string& source) : file_(std::move(file)), source_(source) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (line >= 0) column = field_name_column(source_, line, column, message);
    // Protobuf counts lines and columns from 0; editors count from 1.
    const std::string where = line < 0 ? file_ + ": "
                                       : file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": ";
    report += (report.empty() ? "" : "\n") + where + clean_parse_message(message);
  }
  std::string report;  // one line per error

 private:
  std::string file_;
  const std::string& source_;
};

// Used when re-deriving positions: the text already parsed once.
class silent_errors : public pb::io::ErrorCollector {
 public:
  void AddError(int, pb::io::ColumnNumber, const std::string&) override {}
};

std::string read_text(const fs::path& file) {
  auto fail = [&](const std::string& why) {
    throw core::user_error(file.string() + ": cannot read model file: " + why);
  };
  // A FIFO or a device would block or never end: only regular files are opened.
  if (const std::string kind = special_file_kind(file.string()); !kind.empty())
    fail("it is " + kind + "; allowed: a regular file");
  errno = 0;
  const std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) fail(errno ? std::strerror(errno) : "cannot open");
  std::string text;
  std::array<char, 1 << 16> buf;
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) text.append(buf.data(), n);
  if (std::ferror(f.get())) fail(errno ? std::strerror(errno) : "read error");
  return text;
}

// Model files are UTF-8: a leading byte-order mark is dropped, any other encoding is
// an error at the first byte that is not UTF-8 (names and paths end up in traces).
void check_utf8(std::string& text, const std::string& name) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  const std::size_t bad = utf8::first_invalid(text);
  if (bad == std::string::npos) return;
  const std::size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
  const std::size_t line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
  const std::size_t col = bad - (line_start == std::string::npos || bad == 0 ? 0 : line_start + 1) + 1;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[bad]));
  throw core::user_error(name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": byte " + hex +
                         " is not UTF-8; allowed: UTF-8 text (save the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8)");
}

void fill_init(v1::WeightInit& w) {
  if (w.law() == v1::INIT_UNSPECIFIED) w.set_law(v1::UNIFORM_FAN_IN);
  if (w.law() == v1::XAVIER_UNIFORM && w.scale() == 0) w.set_scale(1);  // gain 0 -> 1
}

bool delay_unset(const v1::Delay& d) { return d.law_case() == v1::Delay::LAW_NOT_SET; }

}  // namespace

source_map::source_map(std::string file, const pb::TextFormat::ParseInfoTree* tree,
                       std::vector<override_site> overrides)
    : file_(std::move(file)), tree_(tree), overrides_(std::move(overrides)) {}

std::string source_map::where(std::string_view path) const {
  // The most specific override wins (the field itself over a message it created); among
  // equals, the last one given, which is the one whose value stands.
  const override_site* cited = nullptr;
  for (const override_site& o : overrides_) {
    const std::string_view c = o.canonical;
    if (path.starts_with(c) && (path.size() == c.size() || path[c.size()] == '.' || path[c.size()] == '[') &&
        (cited == nullptr || c.size() >= cited->canonical.size()))
      cited = &o;
  }
  if (cited != nullptr) return "--set " + cited->given + ": ";
  // Walk the path down the parse tree, remembering the deepest position found: a
  // field that is absent (e.g. filled by a default) is cited at its enclosing message.
  const pb::Descriptor* d = v1::Model::descriptor();
  const pb::TextFormat::ParseInfoTree* t = tree_;
  pb::TextFormat::ParseLocation best;
  std::size_t i = 0;
  while (t != nullptr && d != nullptr && i < path.size()) {
    std::size_t end = path.find_first_of(".[", i);
    const pb::FieldDescriptor* f = d->FindFieldByName(std::string(path.substr(i, end - i)));
    if (f == nullptr) break;
    int index = -1;
    if (end != std::string_view::npos && path[end] == '[') {
      const std::size_t close = path.find(']', end);
      if (close == std::string_view::npos) break;
      std::from_chars(path.data() + end + 1, path.data() + close, index);
      end = close + 1;
    }
    // ParseInfoTree insists on an index for repeated fields and -1 for singular ones;
    // a repeated field named without one is pointed at by its first element.
    if (f->is_repeated() != (index >= 0)) index = f->is_repeated() ? 0 : -1;
    pb::TextFormat::ParseLocation loc = t->GetLocation(f, index);
    bool descend = true;
    if (loc.line < 0 && index > 0) {
      // List syntax (`xs: [a, b]`) records only the list's start and no element trees.
      loc = t->GetLocation(f, 0);
      descend = false;
    }
    if (loc.line < 0) break;
    best = loc;
    if (!descend || f->message_type() == nullptr || end >= path.size()) break;
    t = t->GetTreeForNested(f, index);
    d = f->message_type();
    i = path[end] == '.' ? end + 1 : end;
  }
  if (best.line < 0) return file_ + ": ";
  return file_ + ":" + std::to_string(best.line + 1) + ":" + std::to_string(best.column + 1) + ": ";
}

void validate_model(const loaded_model& m) {
  // Re-derive positions from the kept text so errors still point into the file.
  pb::TextFormat::ParseInfoTree tree;
  pb::TextFormat::Parser parser;
  silent_errors quiet;
  parser.RecordErrorsTo(&quiet);
  parser.WriteLocationsTo(&tree);
  v1::Model scratch;
  std::vector<override_site> sites;
  if (parser.ParseFromString(m.text, &scratch)) {
    try {
      sites = apply_overrides(scratch, m.overrides);
    } catch (const core::user_error&) {
      // Not the overrides that built m.model: cite file positions only.
    }
  }
  validate_model(m, source_map(m.path.string(), &tree, std::move(sites)));
}

void apply_defaults(v1::Model& m) {
  auto find_population = [&m](const std::string& name) -> const v1::Population* {
    for (const v1::Population& p : m.populations()) {
      if (p.name() == name) return &p;
    }
    return nullptr;
  };
  for (v1::Population& p : *m.mutable_populations()) {
    if (p.activation() == v1::ACTIVATION_UNSPECIFIED) p.set_activation(v1::IDENTITY);
  }
  for (v1::Projection& q : *m.mutable_projections()) {
    if (q.connectivity_case() == v1::Projection::CONNECTIVITY_NOT_SET) q.mutable_dense();
    if (q.has_conv() && q.conv().stride() == 0) q.mutable_conv()->set_stride(1);
    fill_init(*q.mutable_init());
    const v1::Population* post = find_population(q.post());
    if (q.has_bias_init()) {
      fill_init(*q.mutable_bias_init());
    } else if (post != nullptr && post->bias()) {
      // "Same law as init", PyTorch style: a full copy, seed included, which is what
      // the network builder falls back to anyway (it salts the bias stream itself).
      *q.mutable_bias_init() = q.init();
    }
    if (delay_unset(q.delay())) q.mutable_delay()->mutable_constant()->set_ticks(1);
    v1::Feedback& fb = *q.mutable_feedback();
    if (fb.kind() == v1::FEEDBACK_UNSPECIFIED) {
      // The input is clamped to the data: an error sent into it would be discarded.
      const v1::Population* pre = find_population(q.pre());
      fb.set_kind(pre != nullptr && pre->role() == v1::INPUT ? v1::NONE : v1::SYMMETRIC);
    }
    if (delay_unset(fb.delay())) *fb.mutable_delay() = q.delay();
  }
  v1::Rule& rule = *m.mutable_rule();
  if (rule.loss() == v1::LOSS_UNSPECIFIED) rule.set_loss(v1::SOFTMAX_CE);
  if (rule.has_zil() && rule.zil().gamma() == 0) rule.mutable_zil()->set_gamma(1);
  if (rule.has_il()) {   // spec pc-family.md §5, IL (Algorithm A)
    v1::IL& il = *rule.mutable_il();
    if (il.iterations() == 0) il.set_iterations(25);
    if (!il.has_gamma_top()) il.set_gamma_top(0.015);
    if (!il.has_gamma_bot()) il.set_gamma_bot(0.02);
    if (!il.has_clamp()) il.set_clamp(1);
  }
  if (rule.has_il_prox()) {   // spec §5, IL-prox (Algorithm B) and IL-prox Fast
    v1::ILProx& ip = *rule.mutable_il_prox();
    if (ip.iterations() == 0) ip.set_iterations(ip.fast() ? 12 : 25);
    if (!ip.has_gamma_top()) ip.set_gamma_top(ip.fast() ? 0 : 0.015);
    if (!ip.has_gamma_bot()) ip.set_gamma_bot(ip.fast() ? 0.025 : 0.015);
    if (!ip.has_eps_n()) ip.set_eps_n(0.25);
  }
  auto optimizer_defaults = [](v1::Optimizer& o) {
    if (o.kind() == v1::Optimizer::KIND_UNSPECIFIED) o.set_kind(v1::Optimizer::SGD);
    if (o.beta1() == 0) o.set_beta1(0.9);
    if (o.beta2() == 0) o.set_beta2(0.999);
    if (o.eps() == 0) o.set_eps(1e-8);
  };
  if (rule.has_zil() && rule.zil().has_optimizer()) optimizer_defaults(*rule.mutable_zil()->mutable_optimizer());
  if (rule.has_il() && rule.il().has_optimizer()) optimizer_defaults(*rule.mutable_il()->mutable_optimizer());
  if (rule.has_il_prox() && rule.il_prox().has_optimizer())
    optimizer_defaults(*rule.mutable_il_prox()->mutable_optimizer());
  if (rule.has_dp()) {
    v1::DP& dp = *rule.mutable_dp();
    if (dp.variant() == v1::DP::VARIANT_UNSPECIFIED) dp.set_variant(v1::DP::STANDARD);
    if (dp.beta() == 0) dp.set_beta(0.5);
    if (dp.rounds() == 0) dp.set_rounds(1);
    if (dp.power_iterations() == 0) dp.set_power_iterations(3);
    if (dp.max_state() == 0) dp.set_max_state(1e6);
    if (dp.has_optimizer()) optimizer_defaults(*dp.mutable_optimizer());
  }
  if (m.data().pixel_scale() == 0) m.mutable_data()->set_pixel_scale(1.0 / 255.0);
  v1::Schedule& s = *m.mutable_schedule();
  if (s.epochs() == 0) s.set_epochs(1);
  if (s.batch_size() == 0) s.set_batch_size(1);
  // eval_every 0 ("once per epoch") needs the training-set size, which only the
  // runner knows.
  v1::Execution& e = *m.mutable_execution();
  if (e.mode() == v1::MODE_UNSPECIFIED) e.set_mode(v1::DATAFLOW);
  if (e.precision() == v1::PRECISION_UNSPECIFIED) e.set_precision(v1::FLOAT32);
  if (e.threads() == 0) e.set_threads(1);
  v1::Record& r = *m.mutable_record();
  if (r.flush_every() == 0) r.set_flush_every(1000);
  // sample_every and snapshot_every stay 0 ("auto"): the runner derives them from the run's length.
}

fs::path resolve_data_path(const loaded_model& m, const std::string& p) {
  static constexpr std::string_view var = "$FASHION_MNIST";
  if (p.starts_with(var) && (p.size() == var.size() || p[var.size()] == '/')) {
    const fs::path base = "/usr/share/datasets/fashion-mnist";
    const std::size_t rest = p.find_first_not_of('/', var.size());
    return rest == std::string::npos ? base : base / p.substr(rest);
  }
  const fs::path path(p);
  return path.is_absolute() ? path : m.dir / path;
}

loaded_model load_model(const fs::path& file, const std::vector<std::string>& overrides) {
  loaded_model lm;
  lm.path = file;
  lm.overrides = overrides;
  lm.text = read_text(file);
  check_utf8(lm.text, file.string());
  // Absolute, so data paths keep resolving if the process changes directory later.
  std::error_code ec;
  const fs::path abs = fs::absolute(file, ec);
  lm.dir = (ec ? file : abs).parent_path();

  const std::string name = file.string();
  pb::TextFormat::ParseInfoTree tree;
  pb::TextFormat::Parser parser;
  parse_errors errors(name, lm.text);
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(lm.text, &lm.model)) {
    throw core::user_error(errors.report.empty() ? name + ": not a valid phaseless.v1.Model text file" : errors.report);
  }
  std::vector<override_site> sites = apply_overrides(lm.model, overrides);
  apply_defaults(lm.model);
  validate_model(lm, source_map(name, &tree, std::move(sites)));
  return lm;
}

}  // namespace phaseless::io

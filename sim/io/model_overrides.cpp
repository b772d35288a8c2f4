// --set overrides. Everything goes through descriptors and reflection: the schema
// can grow without this file changing, and error messages can list the real field
// and enum names instead of a hand-kept copy.
#include "sim/io/model_overrides.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "sim/core/errors.hpp"

namespace phaseless::io {
namespace {

namespace pb = google::protobuf;

struct component {
  std::string name;
  std::optional<std::string> key;  // text inside [...], a number or an element name
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw core::user_error("--set " + path + ": " + what);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<component> split_path(const std::string& path) {
  std::vector<component> out;
  std::size_t i = 0;
  while (i < path.size()) {
    component c;
    while (i < path.size() && path[i] != '.' && path[i] != '[') c.name += path[i++];
    if (c.name.empty()) fail(path, "empty field name in the path; expected e.g. schedule.epochs or populations[1].size");
    if (i < path.size() && path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string::npos) fail(path, "'[' without a matching ']'");
      c.key = std::string(trim(std::string_view(path).substr(i + 1, close - i - 1)));
      if (c.key->empty()) fail(path, "empty index []; give a number or an element name");
      i = close + 1;
    }
    if (i < path.size()) {
      if (path[i] != '.') fail(path, "expected '.' after ']'");
      if (++i == path.size()) fail(path, "path ends with '.'");
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) fail(path, "empty path; expected e.g. schedule.epochs=3");
  return out;
}

const pb::FieldDescriptor& find_field(const std::string& path, const pb::Descriptor& d, const std::string& name) {
  const pb::FieldDescriptor* f = d.FindFieldByName(name);
  if (f == nullptr) fail(path, "no field '" + name + "' in " + d.full_name() + "; fields are: " + field_names(d));
  return *f;
}

// Turns "[3]" or "[h1]" into an element index of a repeated field.
int element_index(const std::string& path, const pb::Message& msg, const pb::FieldDescriptor& f,
                  const std::string& key) {
  const pb::Reflection& r = *msg.GetReflection();
  const int count = r.FieldSize(msg, &f);
  if (std::isdigit(static_cast<unsigned char>(key.front()))) {
    unsigned long long idx = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), idx);
    if (ec != std::errc() || end != key.data() + key.size()) fail(path, "index '" + key + "' is not a number");
    if (idx >= static_cast<unsigned long long>(count)) {
      fail(path, "index " + key + " is out of range: " + f.name() + " has " + std::to_string(count) +
                     " element" + (count == 1 ? "" : "s") +
                     (count > 0 ? " (0 to " + std::to_string(count - 1) + ")" : ""));
    }
    return static_cast<int>(idx);
  }
  const pb::Descriptor* et = f.message_type();
  const pb::FieldDescriptor* name_field = et != nullptr ? et->FindFieldByName("name") : nullptr;
  if (name_field == nullptr || name_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
    fail(path, "'" + key + "' is not a number, and elements of " + f.name() + " have no name to look up");
  }
  std::string names;
  for (int i = 0; i < count; ++i) {
    const pb::Message& e = r.GetRepeatedMessage(msg, &f, i);
    const std::string n = e.GetReflection()->GetString(e, name_field);
    if (n == key) return i;  // the first match: duplicate names are a validation error anyway
    names += (i ? ", " : "") + n;
  }
  fail(path, "no element of " + f.name() + " is named '" + key + "'; names are: " + (names.empty() ? "(none)" : names));
}

template <typename T>
T parse_integer(const std::string& path, const pb::FieldDescriptor& f, std::string_view v) {
  const bool is_unsigned = !std::numeric_limits<T>::is_signed;
  if (is_unsigned && !v.empty() && v.front() == '-') {
    fail(path, std::string("'").append(v) + "': " + f.name() + " is unsigned, so it cannot be negative; allowed: 0 to " +
                   std::to_string(std::numeric_limits<T>::max()));
  }
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  T out{};
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec == std::errc::result_out_of_range) {
    fail(path, std::string("'").append(v) + "' is out of range for " + f.name() + " (" + f.type_name() + "); allowed: " +
                   std::to_string(std::numeric_limits<T>::min()) + " to " + std::to_string(std::numeric_limits<T>::max()));
  }
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    fail(path, "'" + std::string(v) + "' is not an integer (" + f.name() + " is " + f.type_name() + ")");
  }
  return out;
}

double parse_double(const std::string& path, const pb::FieldDescriptor& f, std::string_view v) {
  // from_chars is locale-independent and takes nan/inf/infinity (any case) but not '+'.
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  double out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec == std::errc::result_out_of_range) {
    // Overflow: keep the sign as an infinity and let validation word the problem.
    return (!v.empty() && v.front() == '-') ? -HUGE_VAL : HUGE_VAL;
  }
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    fail(path, "'" + std::string(v) + "' is not a number (" + f.name() + " is " + f.type_name() + ")");
  }
  return out;
}

bool parse_bool(const std::string& path, std::string_view v) {
  const std::string l = lower(v);
  if (l == "true" || l == "1") return true;
  if (l == "false" || l == "0") return false;
  fail(path, "'" + std::string(v) + "' is not a boolean; allowed: true, false, 1, 0");
}

const pb::EnumValueDescriptor& parse_enum(const std::string& path, const pb::FieldDescriptor& f, std::string_view v) {
  const pb::EnumDescriptor& e = *f.enum_type();
  const std::string want = lower(v);
  for (int i = 0; i < e.value_count(); ++i) {
    if (lower(e.value(i)->name()) == want) return *e.value(i);
  }
  fail(path, std::string("'").append(v) + "' is not a " + e.full_name() + "; allowed: " + enum_names(e));
}

// Error collector for message-valued overrides: keeps the first problem's text.
class first_error : public pb::io::ErrorCollector {
 public:
  void AddError(int /*line*/, pb::io::ColumnNumber column, const std::string& message) override {
    if (text.empty()) text = "column " + std::to_string(column + 1) + " of the value: " + message;
  }
  std::string text;
};

void set_message(const std::string& path, pb::Message& target, std::string_view v) {
  // Braces are optional: "{ p: 0.5 }" and "p: 0.5" mean the same, "{}" selects an empty message.
  v = trim(v);
  if (v.size() >= 2 && v.front() == '{' && v.back() == '}') v = trim(v.substr(1, v.size() - 2));
  target.Clear();
  pb::TextFormat::Parser parser;
  first_error errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(v), &target)) fail(path, errors.text);
}

void set_scalar(const std::string& path, pb::Message& msg, const pb::FieldDescriptor& f, int index,
                const std::string& raw) {
  const pb::Reflection& r = *msg.GetReflection();
  const std::string_view v = trim(raw);
  const bool rep = index >= 0;
  using F = pb::FieldDescriptor;
  switch (f.cpp_type()) {
    case F::CPPTYPE_INT32: {
      const auto x = parse_integer<std::int32_t>(path, f, v);
      rep ? r.SetRepeatedInt32(&msg, &f, index, x) : r.SetInt32(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_INT64: {
      const auto x = parse_integer<std::int64_t>(path, f, v);
      rep ? r.SetRepeatedInt64(&msg, &f, index, x) : r.SetInt64(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_UINT32: {
      const auto x = parse_integer<std::uint32_t>(path, f, v);
      rep ? r.SetRepeatedUInt32(&msg, &f, index, x) : r.SetUInt32(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_UINT64: {
      const auto x = parse_integer<std::uint64_t>(path, f, v);
      rep ? r.SetRepeatedUInt64(&msg, &f, index, x) : r.SetUInt64(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_DOUBLE: {
      const double x = parse_double(path, f, v);
      rep ? r.SetRepeatedDouble(&msg, &f, index, x) : r.SetDouble(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_FLOAT: {
      const auto x = static_cast<float>(parse_double(path, f, v));
      rep ? r.SetRepeatedFloat(&msg, &f, index, x) : r.SetFloat(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_BOOL: {
      const bool x = parse_bool(path, v);
      rep ? r.SetRepeatedBool(&msg, &f, index, x) : r.SetBool(&msg, &f, x);
      break;
    }
    case F::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor& x = parse_enum(path, f, v);
      rep ? r.SetRepeatedEnum(&msg, &f, index, &x) : r.SetEnum(&msg, &f, &x);
      break;
    }
    case F::CPPTYPE_STRING:
      // Strings are taken verbatim: a name may legitimately contain spaces.
      rep ? r.SetRepeatedString(&msg, &f, index, raw) : r.SetString(&msg, &f, raw);
      break;
    case F::CPPTYPE_MESSAGE:
      set_message(path, rep ? *r.MutableRepeatedMessage(&msg, &f, index) : *r.MutableMessage(&msg, &f), raw);
      break;
  }
}

}  // namespace

std::string field_names(const pb::Descriptor& d) {
  std::string out;
  for (int i = 0; i < d.field_count(); ++i) out += (i ? ", " : "") + d.field(i)->name();
  return out;
}

std::string enum_names(const pb::EnumDescriptor& e) {
  std::string out;
  for (int i = 0; i < e.value_count(); ++i) {
    const pb::EnumValueDescriptor& v = *e.value(i);
    const std::string& n = v.name();
    if (v.number() == 0 && n.size() > 12 && n.ends_with("_UNSPECIFIED")) continue;
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

namespace {

// Appends a default element to a repeated field and returns its index.
int add_element(pb::Message& msg, const pb::FieldDescriptor& f) {
  const pb::Reflection& r = *msg.GetReflection();
  using F = pb::FieldDescriptor;
  switch (f.cpp_type()) {
    case F::CPPTYPE_INT32: r.AddInt32(&msg, &f, 0); break;
    case F::CPPTYPE_INT64: r.AddInt64(&msg, &f, 0); break;
    case F::CPPTYPE_UINT32: r.AddUInt32(&msg, &f, 0); break;
    case F::CPPTYPE_UINT64: r.AddUInt64(&msg, &f, 0); break;
    case F::CPPTYPE_DOUBLE: r.AddDouble(&msg, &f, 0); break;
    case F::CPPTYPE_FLOAT: r.AddFloat(&msg, &f, 0); break;
    case F::CPPTYPE_BOOL: r.AddBool(&msg, &f, false); break;
    case F::CPPTYPE_ENUM: r.AddEnumValue(&msg, &f, 0); break;
    case F::CPPTYPE_STRING: r.AddString(&msg, &f, ""); break;
    case F::CPPTYPE_MESSAGE: r.AddMessage(&msg, &f); break;
  }
  return r.FieldSize(msg, &f) - 1;
}

std::string member_names(const pb::OneofDescriptor& o) {
  std::string out;
  for (int i = 0; i < o.field_count(); ++i) out += (i ? ", " : "") + o.field(i)->name();
  return out;
}

// A --set never moves a oneof to another member by writing into it: `rule.il.optimizer.lr` on a
// Z-IL model would otherwise turn it into an IL model without a word. Selecting a
// member is its own override, ONEOF=MEMBER (e.g. rule.kind=il).
void check_oneof(const std::string& path, const pb::Message& msg, const pb::FieldDescriptor& f,
                 const std::string& prefix) {
  const pb::OneofDescriptor* o = f.containing_oneof();
  if (o == nullptr) return;
  const pb::FieldDescriptor* active = msg.GetReflection()->GetOneofFieldDescriptor(msg, o);
  if (active == nullptr || active == &f) return;
  const std::string at = prefix.empty() ? "" : prefix + ".";
  fail(path, at + o->name() + " is '" + active->name() + "' (one of: " + member_names(*o) + "), so " + at + f.name() +
                 " is not in use; a --set never switches it: to use " + f.name() + " instead, first --set " + at +
                 o->name() + "=" + f.name());
}

// ONEOF=MEMBER: selects that member of a oneof (cleared, so defaults apply), keeping
// it as it is when it is already the one selected.
void select_member(const std::string& path, pb::Message& msg, const pb::OneofDescriptor& o, const std::string& raw) {
  const std::string name(trim(raw));
  const pb::FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->containing_oneof() != &o)
    fail(path, "'" + name + "' is not a member of " + o.name() + "; allowed: " + member_names(o));
  if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE)
    fail(path, o.name() + "=" + name + " selects a block, but " + name + " is a " + f->type_name() +
                   "; set it directly: " + name + "=VALUE");
  const pb::Reflection& r = *msg.GetReflection();
  if (r.GetOneofFieldDescriptor(msg, &o) != f) r.MutableMessage(&msg, f);   // clears the other member
}

}  // namespace

override_site apply_override(pb::Message& root, const std::string& arg, std::vector<override_site>* created) {
  const std::size_t eq = arg.find('=');
  if (eq == std::string::npos)
    fail(arg, "expected PATH=VALUE or PATH+=VALUE, e.g. schedule.epochs=3 or record.populations+=h1");
  const bool append = eq > 0 && arg[eq - 1] == '+';
  const std::string path(trim(std::string_view(arg).substr(0, append ? eq - 1 : eq)));
  const std::string value = arg.substr(eq + 1);
  const std::vector<component> parts = split_path(path);

  override_site site{path, ""};
  pb::Message* msg = &root;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const component& c = parts[i];
    const bool last = i + 1 == parts.size();
    const pb::Descriptor& d = *msg->GetDescriptor();
    const std::string prefix = site.canonical;
    if (const pb::OneofDescriptor* o = d.FindOneofByName(c.name); o != nullptr && d.FindFieldByName(c.name) == nullptr) {
      if (!last || c.key || append) fail(path, c.name + " names a choice (one of: " + member_names(*o) + "); write " +
                                                   c.name + "=MEMBER to select one, e.g. " + c.name + "=" +
                                                   o->field(0)->name());
      select_member(path, *msg, *o, value);
      site.canonical += (i ? "." : "") + std::string(trim(value));
      break;
    }
    const pb::FieldDescriptor& f = find_field(path, d, c.name);
    check_oneof(path, *msg, f, prefix);
    site.canonical += (i ? "." : "") + f.name();
    int index = -1;
    if (f.is_repeated()) {
      if (last && append) {
        if (c.key) fail(path, "+= appends to the list " + f.name() + ", so it takes no [" + *c.key + "]");
        index = add_element(*msg, f);
      } else if (!c.key) {
        fail(path, f.name() + " is a list; pick one element with " + f.name() + "[N]" +
                       (f.message_type() && f.message_type()->FindFieldByName("name") ? " or " + f.name() + "[NAME]" : "") +
                       (last ? ", or append with " + f.name() + "+=VALUE" : ""));
      } else {
        index = element_index(path, *msg, f, *c.key);
      }
      site.canonical.append("[").append(std::to_string(index)).append("]");
    } else if (c.key) {
      fail(path, f.name() + " is not a list, so it takes no [" + *c.key + "]");
    } else if (last && append) {
      fail(path, f.name() + " is not a list, so += cannot append to it; allowed: " + f.name() + "=VALUE");
    }
    if (last) {
      set_scalar(path, *msg, f, index, value);
      break;
    }
    if (f.cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      fail(path, f.name() + " is a " + f.type_name() + ", so it has no field '" + parts[i + 1].name + "'");
    }
    // Mutable access creates the sub-message if absent (check_oneof made sure that does
    // not switch a oneof). A problem later found inside a message this override created
    // is cited at the override, not at an unrelated line of the file.
    const pb::Reflection& r = *msg->GetReflection();
    if (index < 0 && !r.HasField(*msg, &f) && created != nullptr) created->push_back({path, site.canonical});
    msg = index >= 0 ? r.MutableRepeatedMessage(msg, &f, index) : r.MutableMessage(msg, &f);
  }
  return site;
}

std::vector<override_site> apply_overrides(pb::Message& root, const std::vector<std::string>& args) {
  std::vector<override_site> sites;
  std::string errors;
  for (const std::string& a : args) {
    try {
      std::vector<override_site> created;
      sites.push_back(apply_override(root, a, &created));
      sites.insert(sites.end(), created.begin(), created.end());
    } catch (const core::user_error& e) {
      errors += (errors.empty() ? "" : "\n") + std::string(e.what());
    }
  }
  if (!errors.empty()) throw core::user_error(errors);
  return sites;
}

}  // namespace phaseless::io

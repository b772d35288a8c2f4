#pragma once
// `--set PATH=VALUE` overrides, applied to a parsed model through protobuf reflection
// so every scalar field of the schema can be overridden without a per-field table.
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace phaseless::io {

// One applied override. Validation cites `given` (what the user typed) for problems
// in the field at `canonical`, because the file's location is no longer the source.
struct override_site {
  std::string given;      // the PATH part as typed, e.g. "populations[h1].size"
  std::string canonical;  // numeric indices, e.g. "populations[1].size"
};

// PATH=VALUE. PATH: dot-separated field names; a repeated field takes [N] or, when its
// elements have a `name` field, [NAME]. VALUE: integer (range-checked), double (nan/inf
// accepted so validation can word the problem), bool (true/false/1/0), string, enum
// name (case-insensitive), or for a message field its text format ("{ p: 0.5 }").
// PATH+=VALUE appends VALUE to the list PATH (record.populations+=h1).
// ONEOF=MEMBER selects a member of a oneof (rule.kind=il, projections[w1].delay.law=uniform);
// writing into a member other than the selected one is an error naming the selected one.
// Messages the override created (absent before) are added to *created, so validation
// cites the override for problems inside them. Throws core::user_error "--set PATH: ...".
override_site apply_override(google::protobuf::Message& root, const std::string& arg,
                             std::vector<override_site>* created = nullptr);

// Applies all overrides in order; collects every failure into one user_error
// (one line each) so the user fixes them in one go.
std::vector<override_site> apply_overrides(google::protobuf::Message& root,
                                           const std::vector<std::string>& args);

// "a, b, c": the names of a message's fields, for "fields are: ..." hints.
std::string field_names(const google::protobuf::Descriptor& d);

// "A, B, C": an enum's value names, leaving out the *_UNSPECIFIED zero value that
// only means "use the default" (writing it is the same as omitting the field).
std::string enum_names(const google::protobuf::EnumDescriptor& e);

}  // namespace phaseless::io

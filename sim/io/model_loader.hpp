#pragma once
// Model files: protobuf text format (proto/phaseless.proto) -> a validated Model.
// Every mistake becomes a core::user_error whose message starts with
// "FILE:LINE:COL: FIELD.PATH: " and says what is allowed.
#include <filesystem>
#include <string>
#include <vector>

#include "phaseless.pb.h"

namespace phaseless::io {

struct loaded_model {
  phaseless::v1::Model model;          // parsed, --set overrides applied, defaults filled in
  std::string text;                    // the file's bytes as read
  std::filesystem::path path;          // as given by the user
  std::filesystem::path dir;           // folder that relative data paths resolve against
  std::vector<std::string> overrides;  // the --set arguments as given
};

// Parses, applies overrides ("a.b[2].c=value"; scalars, enums by name, bools), fills
// defaults (see apply_defaults) and validates (validate_model). Throws core::user_error.
loaded_model load_model(const std::filesystem::path& file,
                        const std::vector<std::string>& overrides = {});

// Replaces the schema's "unset" values by their documented defaults, so the rest of
// the program reads concrete values (e.g. gamma 0 -> 1, pixel_scale 0 -> 1/255).
void apply_defaults(phaseless::v1::Model& m);

// Resolves a data path: "$FASHION_MNIST/x" -> the Debian package folder, relative ->
// against the model file's folder.
std::filesystem::path resolve_data_path(const loaded_model& m, const std::string& p);

}  // namespace phaseless::io

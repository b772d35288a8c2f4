// SONATA circuit export (see sonata_export.hpp). Weights come from the model's
// initial draw or from a trace's last snapshot; the network's structure (which
// synapses exist, their delays) is rebuilt from the model, which a trace stores as
// /provenance/effective_model.
#include "sim/io/sonata_export.hpp"

#include <google/protobuf/text_format.h>

#include <fstream>
#include <map>

#include "sim/core/errors.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/isolated_read.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/network_builder.hpp"

namespace phaseless::io {
namespace {

namespace fs = std::filesystem;
using namespace phaseless::core;

// Per synapse (in synapse_matrix order) weights of every projection, and per neuron
// biases of every population with one (empty otherwise).
struct circuit_values {
  std::vector<std::vector<double>> weights;
  std::vector<std::vector<double>> bias;
};

std::string read_string(hid_t f, const char* path, const std::string& what) {
  h5::handle ds = h5::own(H5Dopen2(f, path, H5P_DEFAULT), H5Dclose, what);
  h5::handle t = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, what);
  h5::check(H5Tset_size(t.get(), H5T_VARIABLE), what);
  h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), what);
  char* p = nullptr;
  h5::check(H5Dread(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), what);
  std::string s = p ? p : "";
  H5free_memory(p);
  return s;
}

// The last row of an appendable dataset [T, ...], as doubles.
std::vector<double> last_row(hid_t f, const std::string& path, const std::string& what) {
  h5::handle ds = h5::own(H5Dopen2(f, path.c_str(), H5P_DEFAULT), H5Dclose, what + ": no " + path);
  auto dims = h5::extent(ds.get(), what);
  if (dims.empty() || dims[0] == 0) throw user_error(what + ": " + path + " has no snapshot yet");
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = dims[0] - 1;
  count[0] = 1;
  std::size_t n = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  h5::handle fs_ = h5::own(H5Dget_space(ds.get()), H5Sclose, what);
  h5::check(H5Sselect_hyperslab(fs_.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), what);
  const hsize_t flat = n;
  h5::handle ms = h5::own(H5Screate_simple(1, &flat, nullptr), H5Sclose, what);
  std::vector<double> out(n);
  h5::check(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, ms.get(), fs_.get(), H5P_DEFAULT, out.data()), what);
  return out;
}

// The weights a run starts from: drawn in double, rounded to float by a FLOAT32 run.
circuit_values initial_values(const network_spec& spec, bool float32) {
  circuit_values v;
  for (const auto& p : spec.projections) {
    std::vector<double> w(p.syn.w.begin(), p.syn.w.end());
    if (p.tie >= 0)
      for (std::size_t s = 0; s < w.size(); ++s) w[s] = spec.ties[p.tie].theta[p.param[s]];
    v.weights.push_back(std::move(w));
  }
  for (const auto& pop : spec.populations) v.bias.push_back(pop.bias ? pop.b : std::vector<double>{});
  if (float32)
    for (auto* group : {&v.weights, &v.bias})
      for (auto& xs : *group)
        for (double& x : xs) x = static_cast<float>(x);
  return v;
}

// Weights and biases of the trace's last snapshot, laid onto the model's synapses.
circuit_values snapshot_values(hid_t f, const network_spec& spec, const std::string& what) {
  circuit_values v = initial_values(spec, false);
  std::map<int, std::vector<double>> tie_theta, bias_tie_theta;
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    const std::string name = p.tie >= 0 ? spec.ties[p.tie].name : p.name;
    const std::string base = "/weights/" + name + "/snapshots/";
    if (p.tie >= 0 && !tie_theta.count(p.tie)) tie_theta[p.tie] = last_row(f, base + "data", what);
    if (p.tie >= 0) {
      for (std::size_t s = 0; s < p.param.size(); ++s) v.weights[k][s] = tie_theta[p.tie][p.param[s]];
    } else {
      const auto m = last_row(f, base + "data", what);
      for (index_t i = 0; i < p.syn.n_post; ++i)
        for (auto s = p.syn.row_begin(i); s < p.syn.row_end(i); ++s)
          v.weights[k][s] = m[std::size_t(i) * p.syn.n_pre + p.syn.pre_of(s)];
    }
    const auto& post = spec.populations[p.post];
    const std::string bias_path = base + "bias";
    if (!post.bias || H5Lexists(f, bias_path.c_str(), H5P_DEFAULT) <= 0) continue;
    const auto b = last_row(f, bias_path, what);
    if (post.bias_tie >= 0) {
      bias_tie_theta.emplace(post.bias_tie, b);
    } else if (b.size() == post.size) {
      v.bias[p.post] = b;
    }
  }
  for (std::size_t u = 0; u < spec.populations.size(); ++u) {   // shared biases reach every copy
    const auto& pop = spec.populations[u];
    if (pop.bias_tie < 0 || !bias_tie_theta.count(pop.bias_tie)) continue;
    for (index_t i = 0; i < pop.size; ++i) v.bias[u][i] = bias_tie_theta[pop.bias_tie][pop.bias_param[i]];
  }
  return v;
}

// --- writing ---
struct h5_out {
  h5::handle f;
  std::string what;
  void attr(hid_t obj, const char* name, const std::string& value) const {
    h5::handle t = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, what);
    h5::check(H5Tset_size(t.get(), H5T_VARIABLE), what);
    h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), what);
    h5::handle sp = h5::own(H5Screate(H5S_SCALAR), H5Sclose, what);
    h5::handle a = h5::own(H5Acreate2(obj, name, t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, what);
    const char* p = value.c_str();
    h5::check(H5Awrite(a.get(), t.get(), &p), what);
  }
  h5::handle group(hid_t loc, const std::string& name) const {
    return h5::own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, what);
  }
  template <class T>
  h5::handle column(hid_t loc, const char* name, hid_t file_type, hid_t mem_type, const std::vector<T>& v) const {
    const hsize_t n = v.size();
    h5::handle sp = h5::own(H5Screate_simple(1, &n, nullptr), H5Sclose, what);
    h5::handle ds = h5::own(H5Dcreate2(loc, name, file_type, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                            H5Dclose, what);
    if (n) h5::check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), what);
    return ds;
  }
};

h5_out create_sonata_file(const fs::path& file) {
  h5_out o;
  o.what = "cannot write '" + file.string() + "'";
  h5::handle fapl = h5::file_access_plist(o.what);
  const hid_t id = H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (id < 0) throw user_error(o.what + ": " + h5::error_text());
  o.f = h5::handle(id, H5Fclose);
  const std::uint32_t version[2] = {0, 1};
  const std::uint32_t magic = 0x0A7A;
  const hsize_t two = 2;
  h5::handle s1 = h5::own(H5Screate(H5S_SCALAR), H5Sclose, o.what), s2 = h5::own(H5Screate_simple(1, &two, nullptr), H5Sclose, o.what);
  h5::handle a = h5::own(H5Acreate2(id, "magic", H5T_STD_U32LE, s1.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, o.what);
  h5::check(H5Awrite(a.get(), H5T_NATIVE_UINT32, &magic), o.what);
  h5::handle b = h5::own(H5Acreate2(id, "version", H5T_STD_U32LE, s2.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, o.what);
  h5::check(H5Awrite(b.get(), H5T_NATIVE_UINT32, version), o.what);
  return o;
}

void write_nodes(const fs::path& file, const network_spec& spec, const circuit_values& v) {
  h5_out o = create_sonata_file(file);
  h5::handle nodes = o.group(o.f.get(), "nodes");
  for (std::size_t u = 0; u < spec.populations.size(); ++u) {
    const auto& pop = spec.populations[u];
    h5::handle g = o.group(nodes.get(), pop.name);
    std::vector<std::int64_t> type(pop.size, std::int64_t(u));
    std::vector<std::uint32_t> group_id(pop.size, 0);
    std::vector<std::uint64_t> index(pop.size);
    for (index_t i = 0; i < pop.size; ++i) index[i] = i;
    o.column(g.get(), "node_type_id", H5T_STD_I64LE, H5T_NATIVE_INT64, type);
    o.column(g.get(), "node_group_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, group_id);
    o.column(g.get(), "node_group_index", H5T_STD_U64LE, H5T_NATIVE_UINT64, index);
    h5::handle g0 = o.group(g.get(), "0");
    if (!v.bias[u].empty()) o.column(g0.get(), "bias", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.bias[u]);
  }
}

void write_edges(const fs::path& file, const network_spec& spec, const circuit_values& v, std::size_t& edges) {
  h5_out o = create_sonata_file(file);
  h5::handle root = o.group(o.f.get(), "edges");
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    const std::size_t n = p.syn.size();
    std::vector<std::uint64_t> src(n), dst(n), index(n);
    std::vector<double> delay(n);
    for (index_t i = 0; i < p.syn.n_post; ++i)
      for (auto s = p.syn.row_begin(i); s < p.syn.row_end(i); ++s) {
        src[s] = p.syn.pre_of(s);
        dst[s] = i;
        index[s] = s;
        delay[s] = p.forward.class_delay.empty()
                       ? 1.0   // no delay classes recorded: the default of one tick
                       : double(p.forward.class_delay[p.forward.klass.empty() ? 0 : p.forward.klass[s]]);
      }
    edges += n;
    h5::handle g = o.group(root.get(), p.name);
    h5::handle sd = o.column(g.get(), "source_node_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, src);
    o.attr(sd.get(), "node_population", spec.populations[p.pre].name);
    h5::handle td = o.column(g.get(), "target_node_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, dst);
    o.attr(td.get(), "node_population", spec.populations[p.post].name);
    o.column(g.get(), "edge_type_id", H5T_STD_I64LE, H5T_NATIVE_INT64, std::vector<std::int64_t>(n, std::int64_t(k)));
    o.column(g.get(), "edge_group_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, std::vector<std::uint32_t>(n, 0));
    o.column(g.get(), "edge_group_index", H5T_STD_U64LE, H5T_NATIVE_UINT64, index);
    h5::handle g0 = o.group(g.get(), "0");
    o.column(g0.get(), "syn_weight", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.weights[k]);
    o.column(g0.get(), "delay", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, delay);
  }
}

const char* role_name(role_kind r) { return r == role_kind::input ? "input" : r == role_kind::output ? "output" : "hidden"; }
const char* activation_name(activation_kind a) {
  switch (a) {
    case activation_kind::relu: return "relu";
    case activation_kind::tanh: return "tanh";
    case activation_kind::sigmoid: return "sigmoid";
    default: return "identity";
  }
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw io_error("cannot write '" + file.string() + "'");
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

}  // namespace

namespace {

// The network and the weights to export: a trace's (by content) or a model file's.
struct circuit {
  network_spec spec;
  circuit_values values;
  std::string model_name, weights_from;
};

circuit load_circuit(const fs::path& source, const std::vector<std::string>& overrides) {
  circuit c;
  if (H5Fis_hdf5(source.c_str()) <= 0) {
    const auto lm = load_model(source, overrides);
    c.model_name = lm.model.name();
    c.spec = build_network_spec(lm.model);
    c.values = initial_values(c.spec, lm.model.execution().precision() != phaseless::v1::FLOAT64);
    c.weights_from = "initial weights";
    return c;
  }
  if (!overrides.empty()) throw user_error("--set applies to a model file, not to a trace ('" + source.string() + "')");
  const std::string what = "cannot export trace '" + source.string() + "'";
  require_decodable(source.string(), what);
  h5::handle fapl = h5::file_access_plist(what);
  const hid_t id = H5Fopen(source.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) throw user_error(what + ": " + h5::error_text());
  h5::handle f(id, H5Fclose);
  if (H5Lexists(id, "provenance", H5P_DEFAULT) <= 0 || H5Lexists(id, "provenance/effective_model", H5P_DEFAULT) <= 0)
    throw user_error(what + ": it has no /provenance/effective_model (not a phaseless trace)");
  phaseless::v1::Model m;
  if (!google::protobuf::TextFormat::ParseFromString(read_string(id, "/provenance/effective_model", what), &m))
    throw user_error(what + ": its /provenance/effective_model does not parse");
  c.model_name = m.name();
  c.spec = build_network_spec(m);
  c.values = snapshot_values(id, c.spec, what);
  const auto& p0 = c.spec.projections.at(0);
  const std::string samples = "/weights/" + (p0.tie >= 0 ? c.spec.ties[p0.tie].name : p0.name) + "/snapshots/samples";
  c.weights_from = "snapshot at " + std::to_string(std::uint64_t(last_row(id, samples, what)[0])) + " samples";
  return c;
}

void write_types_and_config(const fs::path& dir, const fs::path& source, const circuit& c) {
  // model_type: the input population replays data (SONATA's "virtual" nodes); the
  // others are single-compartment rate neurons ("point_neuron").
  std::string nt = "node_type_id pop_name model_type role activation\n", et = "edge_type_id projection pre post\n";
  for (std::size_t u = 0; u < c.spec.populations.size(); ++u) {
    const auto& p = c.spec.populations[u];
    nt += std::to_string(u) + " " + p.name + " " + (p.role == role_kind::input ? "virtual" : "point_neuron") + " " +
          role_name(p.role) + " " + activation_name(p.activation) + "\n";
  }
  for (std::size_t k = 0; k < c.spec.projections.size(); ++k) {
    const auto& p = c.spec.projections[k];
    et += std::to_string(k) + " " + p.name + " " + c.spec.populations[p.pre].name + " " +
          c.spec.populations[p.post].name + "\n";
  }
  write_text(dir / "node_types.csv", nt);
  write_text(dir / "edge_types.csv", et);
  write_text(dir / "circuit_config.json",
             "{\n  \"manifest\": {\"$BASE_DIR\": \".\"},\n"
             "  \"networks\": {\n"
             "    \"nodes\": [{\"nodes_file\": \"$BASE_DIR/nodes.h5\", \"node_types_file\": \"$BASE_DIR/node_types.csv\"}],\n"
             "    \"edges\": [{\"edges_file\": \"$BASE_DIR/edges.h5\", \"edge_types_file\": \"$BASE_DIR/edge_types.csv\"}]\n"
             "  },\n"
             "  \"components\": {},\n"
             "  \"phaseless\": {\"model\": " + json_string(c.model_name) + ", \"source\": " +
                 json_string(source.string()) + ", \"weights\": " + json_string(c.weights_from) +
                 ", \"delay_units\": \"tick\"}\n}\n");
}

}  // namespace

sonata_export_summary export_sonata(const fs::path& source, const fs::path& dir,
                                    const std::vector<std::string>& overrides) {
  h5::quiet_errors();
  std::error_code ec;
  if (!fs::exists(source, ec)) throw user_error("'" + source.string() + "': file does not exist");
  const fs::path names[] = {"nodes.h5", "edges.h5", "node_types.csv", "edge_types.csv", "circuit_config.json"};
  for (const auto& n : names)
    if (fs::exists(dir / n, ec))
      throw user_error("'" + (dir / n).string() +
                       "' exists; export never overwrites: remove it or choose another folder");
  const circuit c = load_circuit(source, overrides);
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw user_error("cannot create folder '" + dir.string() + "'");
  sonata_export_summary sum;
  write_nodes(dir / "nodes.h5", c.spec, c.values);
  write_edges(dir / "edges.h5", c.spec, c.values, sum.edges);
  write_types_and_config(dir, source, c);
  sum.weights_from = c.weights_from;
  for (const auto& p : c.spec.populations) sum.nodes += p.size;
  sum.node_populations = c.spec.populations.size();
  sum.edge_populations = c.spec.projections.size();
  for (const auto& n : names) sum.files.push_back(dir / n);
  return sum;
}

}  // namespace phaseless::io

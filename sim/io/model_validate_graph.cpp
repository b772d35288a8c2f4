// Semantic validation of computational-graph features: shapes, conv, one_to_one,
// unrolling and step_slice, PRODUCT, BILINEAR and SOFTMAX vertices with their operand
// and rows projections, and which rules and modes support them. Part of the checker
// of model_validate.cpp; like it, reports every problem rather than the first.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/io/model_checker.hpp"

namespace phaseless::io::detail {

void checker::check_shape(const std::string& path, const v1::Population& p) {
  if (!p.has_shape()) return;
  const v1::Shape& s = p.shape();
  bool sides = true;
  for (auto [f, v] : {std::pair{"channels", s.channels()}, std::pair{"height", s.height()}, std::pair{"width", s.width()}})
    if (v < 1) {
      add(path + ".shape." + f, "missing or 0; allowed: >= 1");
      sides = false;
    }
  const std::uint64_t n = std::uint64_t{s.channels()} * s.height() * s.width();
  if (sides && n != p.size())
    add(path + ".shape", "channels * height * width = " + shape_text(s.channels(), s.height(), s.width()) + " = " +
                             std::to_string(n) + ", but '" + p.name() + "' has size " + std::to_string(p.size()) +
                             "; allowed: a shape whose product is " + std::to_string(p.size()) + ", or size: " +
                             std::to_string(n));
}

void checker::check_unroll_combine(const std::string& path, const v1::Population& p) {
  if (p.unroll() != 0) {
    if (p.role() != v1::HIDDEN && p.role() != v1::ROLE_UNSPECIFIED)
      add(path + ".unroll", "'" + p.name() + "' is an " + v1::Role_Name(p.role()) +
                                " population; only a HIDDEN population can be unrolled; allowed: 0 (not unrolled)");
    else if (p.unroll() < 2 || p.unroll() > max_unroll)
      add(path + ".unroll", std::to_string(p.unroll()) + " steps is out of range; allowed: 0 (not unrolled) or 2 to " +
                                std::to_string(max_unroll));
  }
  if (vertex(p)) {
    const std::string c = "combine " + v1::Combine_Name(p.combine());
    if (p.role() == v1::INPUT)
      add(path + ".combine", "the INPUT population is clamped to the data and combines nothing; allowed: SUM");
    else if (p.bias())
      add(path + ".bias", c + " is a fixed nonlinear vertex (" +
                              (p.combine() == v1::BILINEAR ? "a matrix product" : "a row-wise softmax") +
                              ") and has no bias; allowed: bias: false, or combine SUM");
    if (p.unroll() != 0)
      add(path + ".unroll", c + " cannot be unrolled; allowed: 0 (not unrolled)");
    return;
  }
  if (p.combine() != v1::PRODUCT) return;
  if (p.role() == v1::INPUT)
    add(path + ".combine", "the INPUT population is clamped to the data and combines nothing; allowed: SUM");
  else if (p.bias())
    add(path + ".bias", "combine PRODUCT multiplies its in-projections (mu = prod_k W_k x_k) and has no bias; "
                        "allowed: bias: false, or combine SUM");
}

// Conv, one-to-one, step_slice and the unrolled wiring of one resolved projection.
// Returns false when the projection has no defined place in the unrolled graph.
bool checker::check_connectivity(const std::string& path, const v1::Projection& q, int pre, int post) {
  const v1::Population& a = model_.populations(pre);
  const v1::Population& b = model_.populations(post);
  if (q.has_conv()) check_conv(path + ".conv", q.conv(), a, b);
  if (q.has_one_to_one() && a.size() != b.size())
    add(path + ".one_to_one", "connects neuron i of '" + a.name() + "' (size " + std::to_string(a.size()) +
                                  ") to neuron i of '" + b.name() + "' (size " + std::to_string(b.size()) +
                                  "); allowed: equal sizes, or dense/sparse/conv");
  const std::uint32_t Ta = steps(pre), Tb = steps(post);
  if (Tb != 0 && !q.has_dense())
    add(path + (q.connectivity_case() ? "." + q.GetDescriptor()->FindFieldByNumber(q.connectivity_case())->name() : ""),
        "projections into the unrolled population '" + b.name() + "' are dense (every step reads all of pre, or "
        "its step_slice); allowed: dense");
  if (q.step_slice() != 0) {
    if (Ta != 0 || Tb == 0) {
      add(path + ".step_slice", "applies only from a population that is not unrolled into an unrolled one, but '" +
                                    a.name() + "' is " + (Ta ? "" : "not ") + "unrolled and '" + b.name() + "' is " +
                                    (Tb ? "" : "not ") + "unrolled; allowed: 0");
    } else if (std::uint64_t{q.step_slice()} * Tb != a.size()) {
      const std::string fit = a.size() % Tb == 0 ? std::to_string(a.size() / Tb) + " (" : "";
      add(path + ".step_slice", "step_slice " + std::to_string(q.step_slice()) + " x " + std::to_string(Tb) +
                                    " steps of '" + b.name() + "' = " + std::to_string(std::uint64_t{q.step_slice()} * Tb) +
                                    " neurons, but the pre population '" + a.name() + "' has " +
                                    std::to_string(a.size()) + "; allowed: " + fit + "step_slice * steps = size of '" +
                                    a.name() + "'" + (fit.empty() ? "" : ")") + ", or 0 (every step reads all of pre)");
    }
  }
  if (Ta != 0 && Tb != 0 && pre != post && Ta != Tb) {
    add(path, "'" + a.name() + "' is unrolled over " + std::to_string(Ta) + " steps and '" + b.name() + "' over " +
                  std::to_string(Tb) + "; a projection between unrolled populations runs step by step (" + a.name() +
                  "@t -> " + b.name() + "@t); allowed: equal unroll");
    return false;
  }
  return true;
}

void checker::check_conv(const std::string& path, const v1::Conv& c, const v1::Population& a, const v1::Population& b) {
  const std::uint32_t K = c.kernel(), S = c.stride() == 0 ? 1 : c.stride(), P = c.padding();
  if (K < 1) add(path + ".kernel", "missing or 0; allowed: a kernel side >= 1");
  if (K >= 1 && P >= K)
    add(path + ".padding", std::to_string(P) + " is not less than the kernel side " + std::to_string(K) +
                               "; allowed: 0 to " + std::to_string(K - 1));
  for (const v1::Population* p : {&a, &b})
    if (!p->has_shape())
      add(path, "needs a shape on " + std::string(p == &a ? "pre" : "post") + " population '" + p->name() + "' (size " +
                    std::to_string(p->size()) + "); allowed: shape { channels: ... height: ... width: ... } on '" +
                    p->name() + "'");
  if (K < 1 || P >= K || !shape_ok(a) || !shape_ok(b)) return;
  const v1::Shape& in = a.shape();
  const v1::Shape& out = b.shape();
  const std::string over = "a conv of kernel " + std::to_string(K) + " stride " + std::to_string(S) + " padding " +
                           std::to_string(P) + " over '" + a.name() + "' (" +
                           shape_text(in.channels(), in.height(), in.width()) + ")";
  const std::uint64_t H = in.height() + 2ull * P, W = in.width() + 2ull * P;
  if (H < K || W < K) {
    add(path + ".kernel", over + " does not fit: the padded input is " + std::to_string(H) + "x" + std::to_string(W) +
                              "; allowed: kernel <= " + std::to_string(std::min(H, W)) + ", or more padding");
    return;
  }
  const std::uint64_t Ho = (H - K) / S + 1, Wo = (W - K) / S + 1;
  if (out.height() != Ho || out.width() != Wo)
    add("populations[" + std::to_string(pop_index_.at(b.name())) + "].shape",
        "'" + b.name() + "' has shape " + shape_text(out.channels(), out.height(), out.width()) + ", but " + over +
            " gives " + shape_text(out.channels(), Ho, Wo) + " (H_out = (H + 2 padding - kernel) / stride + 1); "
            "allowed: shape { channels: " + std::to_string(out.channels()) + " height: " + std::to_string(Ho) +
            " width: " + std::to_string(Wo) + " } (size " + std::to_string(out.channels() * Ho * Wo) + ")");
}

void checker::check_products() {
  for (int i = 0; i < model_.populations_size(); ++i) {
    const v1::Population& p = model_.populations(i);
    if (p.combine() != v1::PRODUCT || p.role() == v1::INPUT) continue;
    std::string names;
    int k = 0;
    for (const v1::Projection& q : model_.projections())
      if (q.post() == p.name() && q.pre() != p.name()) names += std::string(k++ ? ", " : "") + "'" + q.name() + "'";
    if (k < 2)
      add("populations[" + std::to_string(i) + "].combine",
          "combine PRODUCT multiplies its in-projections, but '" + p.name() + "' has " + std::to_string(k) +
              (k ? " (" + names + ")" : "") + (steps(i) ? " besides its recurrence (step 1 has none)" : "") +
              "; allowed: at least 2 in-projections, or combine SUM");
  }
}

// The in-projections of BILINEAR and SOFTMAX populations: operand / rows connectivity,
// fixed, symmetric feedback, their count, and the matrix shapes.
void checker::check_vertices() {
  for (int j = 0; j < model_.projections_size(); ++j) {
    const v1::Projection& q = model_.projections(j);
    const std::string path = "projections[" + std::to_string(j) + "]";
    const auto post = pop_index_.find(q.post());
    const v1::Population* b = post == pop_index_.end() ? nullptr : &model_.populations(post->second);
    const std::string conn = connectivity_name(q);
    const std::string conn_path = path + (conn.empty() ? "" : "." + conn);
    if (b != nullptr && b->combine() == v1::BILINEAR && !q.has_operand())
      add(conn_path, conn + " into '" + b->name() + "', whose combine is BILINEAR (a matrix product of its two "
                     "in-projections); allowed: operand {} or operand { transpose: true }");
    else if (b != nullptr && b->combine() == v1::SOFTMAX && !q.has_rows())
      add(conn_path, conn + " into '" + b->name() + "', whose combine is SOFTMAX (a softmax over each row of its "
                     "in-projection); allowed: rows {}");
    else if (b != nullptr && q.has_operand() && b->combine() != v1::BILINEAR)
      add(conn_path, "operand is a factor of a matrix product, but '" + b->name() + "' has combine " +
                         v1::Combine_Name(b->combine() ? b->combine() : v1::SUM) +
                         "; allowed: dense, sparse, conv or one_to_one, or combine BILINEAR on '" + b->name() + "'");
    else if (b != nullptr && q.has_rows() && b->combine() != v1::SOFTMAX)
      add(conn_path, "rows feeds a row-wise softmax, but '" + b->name() + "' has combine " +
                         v1::Combine_Name(b->combine() ? b->combine() : v1::SUM) +
                         "; allowed: dense, sparse, conv or one_to_one, or combine SOFTMAX on '" + b->name() + "'");
    if ((q.has_operand() || q.has_rows()) && !q.fixed())
      add(path + ".fixed", conn + " weights scale a fixed nonlinear vertex and never learn (put the learnable "
                           "maps before it); allowed: fixed: true");
    if ((q.has_operand() || q.has_rows()) && q.feedback().kind() == v1::RANDOM)
      add(path + ".feedback.kind", "RANDOM: errors leave a " + std::string(q.has_operand() ? "BILINEAR" : "SOFTMAX") +
                                       " vertex through its Jacobian, which has no random substitute; allowed: "
                                       "SYMMETRIC or NONE");
  }
  std::set<int> bad_layout;   // vertices whose layout or operands were reported (or unknown)
  for (int i = 0; i < model_.populations_size(); ++i) {
    const v1::Population& p = model_.populations(i);
    if (!vertex(p) || p.role() == v1::INPUT) continue;
    bad_layout.insert(i);   // until its layout passes below
    std::vector<int> in;
    std::string names;
    for (int j = 0; j < model_.projections_size(); ++j)
      if (model_.projections(j).post() == p.name()) {
        in.push_back(j);
        names += std::string(names.empty() ? "" : ", ") + "'" + model_.projections(j).name() + "'";
      }
    const bool bil = p.combine() == v1::BILINEAR;
    const std::size_t want = bil ? 2 : 1;
    const std::string path = "populations[" + std::to_string(i) + "]";
    if (in.size() != want) {
      add(path + ".combine", "combine " + v1::Combine_Name(p.combine()) + " takes exactly " + std::to_string(want) +
                                 " in-projection" + (bil ? "s (the operands X and Y of P = X' Y')" : " (the rows it normalizes)") +
                                 ", but '" + p.name() + "' has " + std::to_string(in.size()) +
                                 (in.empty() ? "" : " (" + names + ")") + "; allowed: exactly " + std::to_string(want));
      continue;
    }
    // The shapes, once the connectivity is right and every operand's layout is known (not
    // already reported: a wrong layout upstream would echo here).
    const auto [R, N] = matrix_of(p);
    std::pair<std::uint64_t, std::uint64_t> op[2];   // X' and Y' as (rows, cols)
    bool known = R != 0;
    for (std::size_t k = 0; k < want; ++k) {
      const v1::Projection& q = model_.projections(in[k]);
      const auto it = pop_index_.find(q.pre());
      if (it == pop_index_.end() || !(bil ? q.has_operand() : q.has_rows()) || bad_layout.count(it->second)) {
        known = false;
        continue;
      }
      const auto m = matrix_of(model_.populations(it->second));
      known = known && m.first != 0;
      op[k] = bil && q.operand().transpose() ? std::pair{m.second, m.first} : m;
    }
    if (!known) continue;
    if (!bil) {
      const v1::Projection& q = model_.projections(in[0]);
      const v1::Population& a = model_.populations(pop_index_.at(q.pre()));
      const bool same = a.has_shape() && p.has_shape()
                            ? a.shape().channels() == p.shape().channels() && a.shape().height() == p.shape().height() &&
                                  a.shape().width() == p.shape().width()
                            : op[0] == std::pair{R, N} && a.size() == p.size();
      if (same) bad_layout.erase(i);
      else
        add(layout_path(i), "'" + p.name() + "' is the SOFTMAX of the rows of '" + a.name() + "' (" +
                                dims(op[0].first, op[0].second) + ": " + std::to_string(op[0].first) + " rows of " +
                                std::to_string(op[0].second) + "), so it must have the same shape; allowed: " +
                                (a.has_shape() ? "shape { channels: " + std::to_string(a.shape().channels()) +
                                                     " height: " + std::to_string(a.shape().height()) +
                                                     " width: " + std::to_string(a.shape().width()) + " }"
                                               : "size " + std::to_string(a.size()) + " without a shape"));
      continue;
    }
    const std::string x = model_.projections(in[0]).pre(), y = model_.projections(in[1]).pre();
    if (op[0].second != op[1].first) {
      add("projections[" + std::to_string(in[1]) + "].operand",
          "'" + p.name() + "' = X' Y' with X' from '" + x + "' (" + dims(op[0].first, op[0].second) + ") and Y' from '" +
              y + "' (" + dims(op[1].first, op[1].second) + "): the inner dimensions " + std::to_string(op[0].second) +
              " and " + std::to_string(op[1].first) + " differ; allowed: operands whose inner dimensions match "
              "(transpose: true reads a population's matrix transposed; a shape (C, H, W) is C rows of H*W)");
      continue;
    }
    if (R == op[0].first && N == op[1].second) bad_layout.erase(i);
    else
      add(layout_path(i), "'" + p.name() + "' = X' Y' is " + dims(op[0].first, op[1].second) + " (X' from '" + x +
                              "' " + dims(op[0].first, op[0].second) + ", Y' from '" + y + "' " +
                              dims(op[1].first, op[1].second) + "), but its layout is " + dims(R, N) +
                              "; allowed: shape { channels: " + std::to_string(op[0].first) + " height: 1 width: " +
                              std::to_string(op[1].second) + " } (size " +
                              std::to_string(op[0].first * op[1].second) + "), or channels " +
                              std::to_string(op[0].first) + " with height * width = " + std::to_string(op[1].second));
  }
}

// Shared parameters, product vertices, one-to-one relays and unrolling are built for
// the Z-IL error wave in dataflow order; the other rules and EAGER mode do not read them.
void checker::check_graph_features() {
  std::vector<std::pair<std::string, std::string>> uses;   // (field path, what)
  for (int i = 0; i < model_.populations_size(); ++i) {
    const v1::Population& p = model_.populations(i);
    const std::string path = "populations[" + std::to_string(i) + "]";
    if (p.unroll() != 0) uses.push_back({path + ".unroll", "unroll"});
    if (p.combine() == v1::PRODUCT || vertex(p))
      uses.push_back({path + ".combine", "combine " + v1::Combine_Name(p.combine())});
    if (p.fixed_bias() && !p.bias()) add(path + ".fixed_bias", "needs a bias to fix; allowed: bias: true, or no fixed_bias");
    if (p.fixed_bias() && (model_.rule().has_il() || model_.rule().has_il_prox() || model_.rule().has_dp()))
      add(path + ".fixed_bias", "is supported by rule zil only; allowed: rule zil, or no fixed_bias");
    if (p.bias() && shape_ok(p) && p.shape().height() * p.shape().width() > 1)
      uses.push_back({path + ".bias", "a bias shared per channel (shape with height * width > 1)"});
  }
  for (int j = 0; j < model_.projections_size(); ++j) {
    const v1::Projection& q = model_.projections(j);
    const std::string path = "projections[" + std::to_string(j) + "]";
    if (q.has_conv()) uses.push_back({path + ".conv", "conv"});
    if (q.has_one_to_one()) uses.push_back({path + ".one_to_one", "one_to_one"});
    if (q.has_operand()) uses.push_back({path + ".operand", "operand"});
    if (q.has_rows()) uses.push_back({path + ".rows", "rows"});
    if (q.fixed()) uses.push_back({path + ".fixed", "fixed"});
    if (q.step_slice() != 0) uses.push_back({path + ".step_slice", "step_slice"});
  }
  const v1::Rule& r = model_.rule();
  const bool other_rule = r.has_il() || r.has_il_prox() || r.has_dp();
  const std::string rule = r.has_il() ? "il" : r.has_il_prox() ? "il_prox" : "dp";
  for (const auto& [path, what] : uses) {
    if (other_rule)
      add(path, what + " is supported by rule zil only, but the rule is " + rule + "; allowed: rule zil, or a plain "
                "(dense or sparse, unshared) network");
    else if (model_.execution().mode() == v1::EAGER)
      add(path, what + " is supported in dataflow only (execution.mode DATAFLOW), but the mode is EAGER; allowed: "
                "execution.mode DATAFLOW");
  }
}

}  // namespace phaseless::io::detail

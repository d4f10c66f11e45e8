// Dead-code elimination: 1. mark the outputs live; 2. walk the nodes backwards, marking the
// operands of live nodes (a node is live when any of its results is); 3. erase the unmarked
// nodes (their values with them).
#include "passes/Dce.h"

#include <algorithm>
#include <unordered_set>

namespace dt::passes {

int dce(ir::Graph &g) {
  std::unordered_set<const ir::Value *> live(g.outputs.begin(), g.outputs.end());
  std::unordered_set<const ir::Node *> dead;
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const ir::Node &n = *g.nodes[k];
    if (!live.count(n.result) &&
        std::none_of(n.moreResults.begin(), n.moreResults.end(), [&](const ir::Value *r) { return live.count(r) > 0; })) {
      dead.insert(&n);
      continue;
    }
    live.insert(n.operands.begin(), n.operands.end());
  }
  if (dead.empty()) return 0;
  std::erase_if(g.values, [&](const std::unique_ptr<ir::Value> &v) { return v->def && dead.count(v->def); });
  std::erase_if(g.nodes, [&](const std::unique_ptr<ir::Node> &n) { return dead.count(n.get()) > 0; });
  return int(dead.size());
}

} // namespace dt::passes

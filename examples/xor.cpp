// XOR with a 2-8-1 MLP through the C++ eager API (dt::Tensor, frontend/TensorOps.h): the same
// training as examples/xor.py (tanh hidden layer, BCE on the logits, Adam, full batch), with
// gradients from Tensor::backward() and in-place Adam updates under dt::NoGradGuard.
// Exits 0 when the loss is below 0.01 and all four points are classified correctly.
#include "frontend/Tensor.h"
#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <vector>

using dt::Tensor;
using dt::ir::DType;

namespace {

/// A parameter initialised like PyTorch's Linear: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
Tensor uniformParam(const dt::ir::Shape &shape, int64_t fanIn, std::mt19937 &rng) {
  double bound = 1.0 / std::sqrt(double(fanIn));
  std::uniform_real_distribution<double> u(-bound, bound);
  std::vector<double> v(size_t(dt::ir::numElements(shape)));
  for (double &x : v) x = u(rng);
  Tensor t = Tensor::fromValues(DType::F32, shape, v);
  t.setRequiresGrad(true);
  return t;
}

struct Linear {
  Tensor weight, bias; // [out, in], [out]
  Linear(int64_t in, int64_t out, std::mt19937 &rng)
      : weight(uniformParam({out, in}, in, rng)), bias(uniformParam({out}, in, rng)) {}
  Tensor operator()(const Tensor &x) const { return dt::matmul(x, dt::t(weight)) + bias; }
};

/// mean(max(z, 0) - z * y + log(1 + exp(-|z|))): binary cross-entropy on logits, overflow-free.
Tensor bceWithLogits(const Tensor &z, const Tensor &y) {
  Tensor softplus = dt::log(dt::exp(-dt::abs(z)) + 1.0);
  return dt::mean(dt::maximum(z, 0.0) - z * y + softplus);
}

/// Adam with PyTorch's update rule (bias corrections in double, as torch.optim.Adam).
class Adam {
public:
  Adam(std::vector<Tensor *> params, double lr) : params_(std::move(params)), lr_(lr) {
    for (Tensor *p : params_) {
      m_.push_back(dt::zerosLike(*p));
      v_.push_back(dt::zerosLike(*p));
    }
  }

  void zeroGrad() {
    for (Tensor *p : params_) p->setGrad(Tensor());
  }

  void step() {
    dt::NoGradGuard noGrad;
    ++t_;
    double bc1 = 1 - std::pow(kBeta1, double(t_)), bc2 = 1 - std::pow(kBeta2, double(t_));
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor g = params_[i]->grad();
      if (!g.defined()) continue;
      dt::add_(m_[i], (g - m_[i]) * (1 - kBeta1)); // m.lerp_(g, 1 - beta1)
      dt::mul_(v_[i], kBeta2);
      dt::add_(v_[i], g * (1 - kBeta2) * g);
      Tensor denom = dt::sqrt(v_[i]) / std::sqrt(bc2) + kEps;
      dt::add_(*params_[i], m_[i] * (-lr_ / bc1) / denom);
    }
  }

private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  std::vector<Tensor *> params_;
  std::vector<Tensor> m_, v_;
  double lr_;
  int64_t t_ = 0;
};

} // namespace

int main() {
  try {
    std::mt19937 rng(0);
    Linear fc1(2, 8, rng), fc2(8, 1, rng);
    Tensor x = Tensor::fromValues(DType::F32, {4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
    Tensor y = Tensor::fromValues(DType::F32, {4, 1}, {0, 1, 1, 0});
    auto model = [&](const Tensor &in) { return fc2(dt::tanh(fc1(in))); };

    Adam opt({&fc1.weight, &fc1.bias, &fc2.weight, &fc2.bias}, 0.05);
    double loss = 0;
    for (int step = 1; step <= 500; ++step) {
      opt.zeroGrad();
      Tensor l = bceWithLogits(model(x), y);
      l.backward();
      opt.step();
      loss = l.item();
      if (step % 100 == 0) std::printf("step %4d  loss %.6f\n", step, loss);
    }

    std::vector<double> logits;
    {
      dt::NoGradGuard noGrad;
      logits = model(x).toValues();
    }
    const double inputs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const int expected[4] = {0, 1, 1, 0};
    int correct = 0;
    for (int i = 0; i < 4; ++i) {
      int pred = logits[size_t(i)] > 0 ? 1 : 0;
      correct += pred == expected[i];
      std::printf("  %d xor %d -> %d\n", int(inputs[i][0]), int(inputs[i][1]), pred);
    }
    std::printf("final loss %.6f, %d/4 correct\n", loss, correct);
    return loss < 0.01 && correct == 4 ? 0 : 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "xor: %s\n", e.what());
    return 2;
  }
}

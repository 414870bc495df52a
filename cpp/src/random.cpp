// Philox4x32-10, the reference definition, checked against Random123's published known-answer vectors. The AVX2
// dropout kernel carries its own vectorised rounds (ISA files share no inline code with baseline files); tests
// check it against this one. Scalar work (the scalar kernel, the AVX2 kernel's head and tail) calls in here.
#include "convlite/random.hpp"

namespace convlite {

namespace {
constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt(3) - 1)
}  // namespace

void philox4x32_10(const std::uint32_t counter[4], const std::uint32_t key[2], std::uint32_t out[4]) {
  std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0, p1 = static_cast<std::uint64_t>(kM1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void philox_stream_block(std::uint64_t seed, std::uint64_t block, std::uint32_t out[4]) {
  const std::uint32_t counter[4] = {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0};
  const std::uint32_t key[2] = {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  philox4x32_10(counter, key, out);
}

std::uint32_t random_uint32(std::uint64_t seed, std::uint64_t element) {
  std::uint32_t out[4];
  philox_stream_block(seed, element >> 2, out);
  return out[element & 3];
}

float random_uniform(std::uint64_t seed, std::uint64_t element) {
  return static_cast<float>(random_uint32(seed, element) >> 8) * (1.0f / 16777216.0f);
}

}  // namespace convlite

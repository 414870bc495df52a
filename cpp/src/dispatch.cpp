// Compiled at the baseline ISA on purpose: this file decides whether AVX2 may run at all, so it must not contain
// a single AVX instruction itself (tests/test_dispatch.py disassembles its object to check).
#include "convlite/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CONVLITE_X86 1
#endif

namespace convlite {
namespace {

std::atomic<int> g_active{static_cast<int>(Isa::scalar)};

#if defined(CONVLITE_X86)
unsigned long long read_xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2_fma = false;
  bool avx512 = false;
};

X86Features detect_x86() {
  X86Features f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool fma = ecx & (1u << 12);
  const bool f16c = ecx & (1u << 29);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;            // SSE and AVX state saved by the OS
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;          // plus opmask and both ZMM halves
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  f.avx2_fma = os_ymm && avx2 && fma && f16c;
  f.avx512 = f.avx2_fma && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}
#endif

bool compiled_in(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return true;
#endif
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return true;
#endif
#if defined(CONVLITE_HAVE_NEON)
    case Isa::neon: return true;
#endif
    default: return false;
  }
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#if defined(CONVLITE_X86)
    case Isa::avx2: return detect_x86().avx2_fma;
    case Isa::avx512: return detect_x86().avx512;
#endif
#if defined(__aarch64__)
    case Isa::neon: return true;
#endif
    default: return false;
  }
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::neon: return "neon";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  if (name == "neon") return Isa::neon;
  throw std::invalid_argument("Unknown instruction set. Expected one of 'scalar', 'avx2', 'avx512', 'neon'. "
                              "Received: CONVLITE_ISA='" + name + "'");
}

bool isa_available(Isa isa) { return compiled_in(isa) && cpu_supports(isa); }

bool isa_tested(Isa isa) { return isa == Isa::scalar || isa == Isa::avx2; }

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::neon})
    if (isa_available(isa)) out.push_back(isa);
  return out;
}

Isa active_isa() { return static_cast<Isa>(g_active.load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  if (!compiled_in(isa))
    throw std::invalid_argument(std::string("This build of convlite has no '") + isa_name(isa) +
                                "' kernels. Received: CONVLITE_ISA='" + isa_name(isa) + "'");
  if (!cpu_supports(isa))
    throw std::invalid_argument(std::string("This CPU (or its operating system) does not support '") +
                                isa_name(isa) + "'. Received: CONVLITE_ISA='" + isa_name(isa) + "'");
  g_active.store(static_cast<int>(isa), std::memory_order_relaxed);
}

void init_dispatch_from_environment() {
  if (const char* forced = std::getenv("CONVLITE_ISA"); forced && *forced) {
    set_active_isa(parse_isa(forced));
    return;
  }
  Isa best = Isa::scalar;
  for (Isa isa : available_isas())
    if (isa_tested(isa) || isa == Isa::neon) best = isa;  // widest tested tier; NEON is AArch64's baseline
  set_active_isa(best);
}

}  // namespace convlite

// zkprove: a native Groth16 prover (BN254) for snarkjs `.zkey` files and circom `.wtns` witnesses,
// giving the proof snarkjs gives (same QAP evaluation, same coset, same blinding formulas), so
// snarkjs and the project's verifiers check it unchanged. Issue #20; see native/README.md.
//
//   zkprove <circuit.zkey> <witness.wtns | -> [--threads N]
//
// The witness is read from stdin when its path is "-". On success it prints one JSON object on
// stdout: {"proof": {pi_a, pi_b, pi_c, protocol, curve}, "publicSignals": [...], "stats": {...}}
// and exits 0. On bad input it prints "zkprove: <CODE>: <message>" on stderr and exits 2 (usage),
// 3 (the zkey is unreadable or corrupt), 4 (the witness is unreadable, corrupt or does not belong
// to the key) or 5 (not a zkey/wtns file, or not a BN254 Groth16 one); 1 for anything else.
//
// Every field element and point of both files is validated before proving (coordinates below q and
// on the curve, coefficient indices in range, witness values below r, witness[0] = 1), so a corrupt
// file gives an error instead of a proof.
#include <fcntl.h>
#include <signal.h>
#include <gmp.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "alt_bn128.hpp"
#include "msm.hpp"

using namespace AltBn128;
typedef RawFr::Element FrE;

namespace {

struct Failure : std::runtime_error {
  int exitCode;
  std::string code;
  Failure(int e, const std::string &c, const std::string &m) : std::runtime_error(m), exitCode(e), code(c) {}
};

[[noreturn]] void badZkey(const std::string &m) { throw Failure(3, "BAD_ZKEY", m); }
[[noreturn]] void badWtns(const std::string &m) { throw Failure(4, "BAD_WITNESS", m); }
// not a BN254 Groth16 zkey / witness at all: another prover (snarkjs) may still handle it
[[noreturn]] void unsupported(const std::string &m) { throw Failure(5, "UNSUPPORTED", m); }

const char *Q_DEC = "21888242871839275222246405745257275088696311157297823662689037894645226208583";
const char *R_DEC = "21888242871839275222246405745257275088548364400416034343698204186575808495617";

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// A whole file in memory: mmap'd, or read from stdin.
class FileBytes {
 public:
  const uint8_t *data = nullptr;
  size_t size = 0;
  FileBytes(const std::string &path, bool isZkey) {
    auto fail = [&](const std::string &m) {
      if (isZkey) badZkey(m);
      badWtns(m);
    };
    if (path == "-") {
      std::vector<uint8_t> buf;
      uint8_t chunk[1 << 16];
      ssize_t k;
      while ((k = read(0, chunk, sizeof chunk)) > 0) buf.insert(buf.end(), chunk, chunk + k);
      if (k < 0) fail(std::string("cannot read stdin: ") + strerror(errno));
      owned = std::move(buf);
      data = owned.data();
      size = owned.size();
      return;
    }
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) fail("cannot open " + path + ": " + strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) fail("cannot stat " + path + ": " + strerror(errno));
    size = (size_t)sb.st_size;
    if (size > 0) {
      void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) fail("cannot map " + path + ": " + strerror(errno));
      mapped = p;
      data = (const uint8_t *)p;
    }
    close(fd);
  }
  ~FileBytes() {
    if (mapped != nullptr) munmap(mapped, size);
  }

 private:
  std::vector<uint8_t> owned;
  void *mapped = nullptr;
};

uint32_t u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
uint64_t u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// The iden3 binary container: magic, version, sections (type u32, size u64, bytes).
struct BinFile {
  std::map<uint32_t, std::pair<const uint8_t *, uint64_t>> sections;
  BinFile(const FileBytes &f, const char *magic, uint32_t maxVersion, bool isZkey) {
    auto fail = [&](const std::string &m) {
      if (isZkey) badZkey(m);
      badWtns(m);
    };
    if (f.size < 4 || memcmp(f.data, magic, 4) != 0)
      unsupported(std::string(isZkey ? "the zkey" : "the witness") + " is not a " + magic + " file (bad magic)");
    if (f.size < 12) fail(std::string("truncated ") + magic + " file (" + std::to_string(f.size) + " bytes)");
    const uint32_t version = u32(f.data + 4);
    if (version == 0 || version > maxVersion)
      unsupported(std::string("unsupported ") + magic + " version " + std::to_string(version));
    const uint32_t n = u32(f.data + 8);
    uint64_t pos = 12;
    for (uint32_t i = 0; i < n; i++) {
      if (pos + 12 > f.size) fail(std::string("truncated ") + magic + " file (section header " + std::to_string(i) + ")");
      const uint32_t type = u32(f.data + pos);
      const uint64_t len = u64(f.data + pos + 4);
      pos += 12;
      if (len > f.size - pos)
        fail(std::string("truncated ") + magic + " file (section " + std::to_string(type) + " needs " + std::to_string(len) +
             " bytes, " + std::to_string(f.size - pos) + " left)");
      if (sections.count(type)) fail(std::string(magic) + " file has section " + std::to_string(type) + " twice");
      sections[type] = {f.data + pos, len};
      pos += len;
    }
    if (pos != f.size) fail(std::string(magic) + " file has " + std::to_string(f.size - pos) + " trailing bytes");
  }
  const uint8_t *section(uint32_t type, uint64_t expectedSize, bool isZkey, const char *what) {
    auto it = sections.find(type);
    const std::string name = std::string(what) + " (section " + std::to_string(type) + ")";
    if (it == sections.end()) {
      if (isZkey) badZkey("the zkey has no " + name);
      badWtns("the witness has no " + name);
    }
    if (expectedSize != UINT64_MAX && it->second.second != expectedSize) {
      const std::string m = name + " has " + std::to_string(it->second.second) + " bytes, expected " +
                            std::to_string(expectedSize);
      if (isZkey) badZkey("the zkey's " + m);
      badWtns("the witness's " + m);
    }
    return it->second.first;
  }
};

bool lessThan(const uint64_t *v, const uint64_t *m) {
  for (int i = 3; i >= 0; i--) {
    if (v[i] != m[i]) return v[i] < m[i];
  }
  return false;
}

bool isModulus(const uint8_t *p, const char *dec) {
  mpz_t a, b;
  mpz_init(a);
  mpz_init(b);
  mpz_import(a, 32, -1, 1, -1, 0, p);
  mpz_set_str(b, dec, 10);
  const bool eq = mpz_cmp(a, b) == 0;
  mpz_clear(a);
  mpz_clear(b);
  return eq;
}

// G1 affine in the zkey's layout (Montgomery, little-endian): (0,0) is the identity.
bool g1Valid(const G1PointAffine &p) {
  if (!lessThan(p.x.v, Fq_rawq) || !lessThan(p.y.v, Fq_rawq)) return false;
  if (F1.isZero(p.x) && F1.isZero(p.y)) return true;
  F1Element y2, x3;
  F1.square(y2, p.y);
  F1.square(x3, p.x);
  F1.mul(x3, x3, p.x);
  F1.add(x3, x3, G1.b());
  return F1.eq(y2, x3);
}

bool g2Valid(G2PointAffine &p) {
  if (!lessThan(p.x.a.v, Fq_rawq) || !lessThan(p.x.b.v, Fq_rawq) || !lessThan(p.y.a.v, Fq_rawq) ||
      !lessThan(p.y.b.v, Fq_rawq))
    return false;
  if (F2.isZero(p.x) && F2.isZero(p.y)) return true;
  F2Element y2, x3;
  F2.square(y2, p.y);
  F2.square(x3, p.x);
  F2.mul(x3, x3, p.x);
  F2.add(x3, x3, G2.b());
  return F2.eq(y2, x3);
}

void checkG1s(const G1PointAffine *ps, uint64_t n, const char *what, int nThreads) {
  int64_t bad = -1;
#pragma omp parallel for num_threads(nThreads) reduction(max : bad)
  for (uint64_t i = 0; i < n; i++) {
    if (!g1Valid(ps[i])) bad = std::max<int64_t>(bad, (int64_t)i);
  }
  if (bad >= 0) badZkey(std::string("the zkey's ") + what + " point " + std::to_string(bad) + " is not on the BN254 curve");
}

void checkG2s(const G2PointAffine *ps, uint64_t n, const char *what, int nThreads) {
  int64_t bad = -1;
#pragma omp parallel for num_threads(nThreads) reduction(max : bad)
  for (uint64_t i = 0; i < n; i++) {
    G2PointAffine p = ps[i];
    if (!g2Valid(p)) bad = std::max<int64_t>(bad, (int64_t)i);
  }
  if (bad >= 0) badZkey(std::string("the zkey's ") + what + " point " + std::to_string(bad) + " is not on the BN254 twist");
}

std::string fqStr(F1Element &e) { return F1.toString(e, 10); }

std::string g1Json(G1Point &p) {
  G1PointAffine a;
  G1.copy(a, p);
  if (G1.isZero(p)) return "[\"0\",\"1\",\"0\"]";
  return "[\"" + fqStr(a.x) + "\",\"" + fqStr(a.y) + "\",\"1\"]";
}

std::string g2Json(G2Point &p) {
  G2PointAffine a;
  G2.copy(a, p);
  if (G2.isZero(p)) return "[[\"0\",\"0\"],[\"1\",\"0\"],[\"0\",\"0\"]]";
  return "[[\"" + fqStr(a.x.a) + "\",\"" + fqStr(a.x.b) + "\"],[\"" + fqStr(a.y.a) + "\",\"" + fqStr(a.y.b) +
         "\"],[\"1\",\"0\"]]";
}

// A uniformly random scalar in [0, r) (32 bytes little-endian), from getrandom(2).
void randomScalar(uint8_t out[32], mpz_t rmod) {
  uint8_t buf[64];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t k = getrandom(buf + got, sizeof buf - got, 0);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw Failure(1, "RANDOM", std::string("getrandom failed: ") + strerror(errno));
    }
    got += (size_t)k;
  }
  mpz_t v;
  mpz_init(v);
  mpz_import(v, 64, -1, 1, -1, 0, buf);
  mpz_mod(v, v, rmod);
  memset(out, 0, 32);
  mpz_export(out, nullptr, -1, 1, -1, 0, v);
  mpz_clear(v);
}

// Iterative radix-2 NTT over Fr (Montgomery form) on a 2^power domain with snarkjs's roots of
// unity: w_2^k = 5^((r-1)/2^k) (5 is Fr's smallest quadratic non-residue, as in ffjavascript).
// transform(x, false): x[k] <- sum_j x[j] w^(jk); transform(x, true): the same with w^-1 (no 1/n).
class Radix2 {
 public:
  explicit Radix2(uint32_t _power) : power(_power), n(uint64_t(1) << _power) {
    mpz_t rm, e, g, v;
    mpz_init_set_str(rm, R_DEC, 10);
    mpz_init(e);
    mpz_init_set_ui(g, 5);
    mpz_init(v);
    // w_{2n}: the coset shift; w_n = w_{2n}^2
    mpz_sub_ui(e, rm, 1);
    mpz_fdiv_q_2exp(e, e, power + 1);
    mpz_powm(v, g, e, rm);
    Fr.fromMpz(w2n, v);
    mpz_set_ui(v, (unsigned long)n);
    mpz_invert(v, v, rm);
    Fr.fromMpz(nInv, v);
    mpz_clears(rm, e, g, v, nullptr);
    FrE wn, wnInv;
    Fr.square(wn, w2n);
    Fr.inv(wnInv, wn);
    fwd.reset(new FrE[n]);
    inv.reset(new FrE[n]);
    // table[half + j] = w_{2 half}^j for half = 1, 2, 4, ..., n/2
    const uint64_t h = n / 2;
    Fr.copy(fwd[h], Fr.one());
    Fr.copy(inv[h], Fr.one());
    for (uint64_t j = 1; j < h; j++) {
      Fr.mul(fwd[h + j], fwd[h + j - 1], wn);
      Fr.mul(inv[h + j], inv[h + j - 1], wnInv);
    }
    for (uint64_t half = h / 2; half >= 1; half /= 2) {
      for (uint64_t j = 0; j < half; j++) {
        Fr.copy(fwd[half + j], fwd[2 * half + 2 * j]);
        Fr.copy(inv[half + j], inv[2 * half + 2 * j]);
      }
    }
  }
  const FrE &root2n() const { return w2n; }
  const FrE &invN() const { return nInv; }

  // single-threaded: the prover runs the three transforms of A, B and C in parallel instead
  void transform(FrE *x, bool inverse) const {
    const FrE *tw = inverse ? inv.get() : fwd.get();
    for (uint64_t i = 0; i < n; i++) {
      const uint64_t r = reverse(i);
      if (i < r) std::swap(x[i], x[r]);
    }
    for (uint32_t s = 1; s <= power; s++) {
      const uint64_t half = uint64_t(1) << (s - 1);
      for (uint64_t i = 0; i < n / 2; i++) {
        const uint64_t j = i & (half - 1);
        const uint64_t k = ((i >> (s - 1)) << s) | j;
        FrE t;
        Fr.mul(t, tw[half + j], x[k + half]);
        Fr.sub(x[k + half], x[k], t);
        Fr.add(x[k], x[k], t);
      }
    }
  }

 private:
  uint32_t power;
  uint64_t n;
  FrE w2n, nInv;
  std::unique_ptr<FrE[]> fwd, inv;
  uint64_t reverse(uint64_t i) const {
    uint64_t r = 0;
    for (uint32_t b = 0; b < power; b++) r |= ((i >> b) & 1) << (power - 1 - b);
    return r;
  }
};

std::string statsJson(const zkmsm::MsmStats &s) {
  std::ostringstream o;
  o << "{\"skipped\":" << s.skipped << ",\"ones\":" << s.ones << ",\"bits\":{";
  for (int i = 0; i < 6; i++) o << (i ? "," : "") << "\"" << zkmsm::CLASS_BITS[i] << "\":" << s.classCount[i];
  o << "}}";
  return o.str();
}

// --self-test: the MSM against a plain sum of scalar multiplications, on bases with repeats,
// negations and identities and scalars of every class (0, 1, r - 1, small signed, full), for G1
// and G2 and several sizes and thread counts. Exit 0 and {"selfTest":"ok",...} or exit 1.
template <typename Gr>
bool selfTestGroup(Gr &g, const char *name, std::string &report) {
  typedef typename Gr::Point Pt;
  typedef typename Gr::PointAffine Af;
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  auto rnd = [&]() {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  const uint64_t *r = Fr_rawq;
  bool ok = true;
  for (uint64_t n : {1, 2, 7, 100, 300, 1500}) {
    std::vector<Af> bases(n);
    std::vector<uint64_t> sc(4 * n);
    for (uint64_t i = 0; i < n; i++) {
      const uint64_t kind = rnd() % 10;
      Pt p;
      int64_t src = -1;
      if (kind == 0 && i > 0) {
        src = rnd() % i;
        g.copy(bases[i], bases[src]);  // a repeat
      } else if (kind == 1 && i > 0) {
        src = rnd() % i;
        g.neg(bases[i], bases[src]);  // a negation
      } else if (kind == 2) {
        g.copy(bases[i], g.zeroAffine());
      } else {
        uint64_t k = rnd() | 1;
        g.mulByScalar(p, g.oneAffine(), (uint8_t *)&k, 8);
        g.copy(bases[i], p);
      }
      uint64_t *k = &sc[4 * i];
      const uint64_t sk = rnd() % 7;
      k[0] = k[1] = k[2] = k[3] = 0;
      if (sk == 0) {
      } else if (sk == 1) {
        k[0] = 1;
      } else if (sk == 2) {
        memcpy(k, r, 32);
        k[0] -= 1 + rnd() % 200;  // r - small: negative small
      } else if (sk == 3) {
        k[0] = rnd() % 65536;
      } else if (sk == 4) {
        k[0] = rnd();
      } else {
        for (int j = 0; j < 4; j++) k[j] = rnd();
        k[3] &= 0x0fffffffffffffffULL;  // < r
      }
      // a repeat or negation with its source's scalar: the same bucket in every window (P + P, P - P)
      if (src >= 0 && rnd() % 2 == 0) memcpy(k, &sc[4 * src], 32);
    }
    Pt want;
    g.copy(want, g.zero());
    for (uint64_t i = 0; i < n; i++) {
      Pt t;
      g.mulByScalar(t, bases[i], (uint8_t *)&sc[4 * i], 32);
      g.add(want, want, t);
    }
    for (int threads : {1, 2, 3}) {
      zkmsm::Msm<Gr> m(g, threads);
      Pt got;
      m.run(got, bases.data(), sc.data(), n, r);
      if (!g.eq(got, want)) {
        ok = false;
        report += std::string(report.empty() ? "" : ", ") + name + " n=" + std::to_string(n) + " threads=" + std::to_string(threads);
      }
    }
  }
  // degenerate bases (all +P or -P, full scalars): buckets meet P + P and P + (-P) in the batched
  // affine additions; the reference is (sum of +-k_i) * P
  for (uint64_t n : {3000, 20000}) {
    Pt p;
    uint64_t k0 = rnd() | 1;
    g.mulByScalar(p, g.oneAffine(), (uint8_t *)&k0, 8);
    Af P, N;
    g.copy(P, p);
    g.neg(N, P);
    std::vector<Af> bases(n);
    std::vector<uint64_t> sc(4 * n);
    mpz_t sum, v, rm;
    mpz_init(sum);
    mpz_init(v);
    mpz_init_set_str(rm, R_DEC, 10);
    for (uint64_t i = 0; i < n; i++) {
      const bool neg = rnd() % 3 == 0;
      g.copy(bases[i], neg ? N : P);
      uint64_t *k = &sc[4 * i];
      for (int j = 0; j < 4; j++) k[j] = rnd();
      k[3] &= 0x0fffffffffffffffULL;
      mpz_import(v, 4, -1, 8, -1, 0, k);
      if (neg) mpz_sub(sum, sum, v);
      else mpz_add(sum, sum, v);
    }
    mpz_mod(sum, sum, rm);
    uint8_t sb[32] = {0};
    mpz_export(sb, nullptr, -1, 1, -1, 0, sum);
    mpz_clears(sum, v, rm, nullptr);
    Pt want;
    g.mulByScalar(want, P, sb, 32);
    for (int threads : {1, 2}) {
      zkmsm::Msm<Gr> m(g, threads);
      Pt got;
      m.run(got, bases.data(), sc.data(), n, r);
      if (!g.eq(got, want)) {
        ok = false;
        report += std::string(report.empty() ? "" : ", ") + name + " degenerate n=" + std::to_string(n) + " threads=" + std::to_string(threads);
      }
    }
  }
  return ok;
}

int selfTest() {
  std::string report;
  const bool ok1 = selfTestGroup(G1, "G1", report);
  const bool ok2 = selfTestGroup(G2, "G2", report);
  if (ok1 && ok2) {
    printf("{\"selfTest\":\"ok\"}\n");
    return 0;
  }
  fprintf(stderr, "zkprove: SELF_TEST: MSM differs from the plain sum: %s\n", report.c_str());
  return 1;
}

int run(int argc, char **argv) {
  std::string zkeyPath, wtnsPath;
  int nThreads = 1;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--self-test") return selfTest();
    if (a == "--threads" && i + 1 < argc) {
      nThreads = atoi(argv[++i]);
      if (nThreads < 1 || nThreads > 256) throw Failure(2, "USAGE", "--threads must be 1..256");
    } else if (a.rfind("--", 0) == 0) {
      throw Failure(2, "USAGE", "unknown option " + a);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 2) throw Failure(2, "USAGE", "usage: zkprove <circuit.zkey> <witness.wtns | -> [--threads N]");
  zkeyPath = pos[0];
  wtnsPath = pos[1];
  omp_set_num_threads(nThreads);

  const double t0 = nowMs();
  // ---- the witness
  FileBytes wf(wtnsPath, false);
  BinFile wb(wf, "wtns", 2, false);
  const uint8_t *wh = wb.section(1, 40, false, "header");
  if (u32(wh) != 32) badWtns("the witness's field elements have " + std::to_string(u32(wh)) + " bytes, expected 32");
  if (!isModulus(wh + 4, R_DEC)) unsupported("the witness is not over the BN254 scalar field");
  const uint32_t nWitness = u32(wh + 36);

  // ---- the zkey
  FileBytes zf(zkeyPath, true);
  BinFile zb(zf, "zkey", 1, true);
  const uint8_t *zh1 = zb.section(1, UINT64_MAX, true, "header");
  if (zb.sections[1].second < 4) badZkey("the zkey's header section is too short");
  if (u32(zh1) != 1) unsupported("the zkey is not a Groth16 key (protocol id " + std::to_string(u32(zh1)) + ")");
  const uint64_t H2 = 4 + 32 + 4 + 32 + 4 + 4 + 4 + 64 + 64 + 128 + 128 + 64 + 128;
  const uint8_t *zh = zb.section(2, UINT64_MAX, true, "Groth16 header");
  if (zb.sections[2].second >= 4 && u32(zh) != 32) unsupported("the zkey's curve is not BN254 (" + std::to_string(u32(zh)) + "-byte base field)");
  zb.section(2, H2, true, "Groth16 header");
  if (!isModulus(zh + 4, Q_DEC)) unsupported("the zkey's curve is not BN254 (base field)");
  if (u32(zh + 36) != 32 || !isModulus(zh + 40, R_DEC)) unsupported("the zkey's curve is not BN254 (scalar field)");
  const uint32_t nVars = u32(zh + 72);
  const uint32_t nPublic = u32(zh + 76);
  const uint32_t domainSize = u32(zh + 80);
  if (nVars == 0 || (uint64_t)nPublic + 1 > nVars)
    badZkey("the zkey's header is inconsistent (nVars " + std::to_string(nVars) + ", nPublic " + std::to_string(nPublic) + ")");
  if (domainSize < 2 || (domainSize & (domainSize - 1)) != 0 || domainSize > (1u << 27))
    badZkey("the zkey's domain size " + std::to_string(domainSize) + " is not a power of two in [2, 2^27]");
  uint32_t power = 0;
  while ((1u << power) < domainSize) power++;
  G1PointAffine alpha1, beta1, delta1;
  G2PointAffine beta2, gamma2, delta2;
  memcpy(&alpha1, zh + 84, 64);
  memcpy(&beta1, zh + 148, 64);
  memcpy(&beta2, zh + 212, 128);
  memcpy(&gamma2, zh + 340, 128);
  memcpy(&delta1, zh + 468, 64);
  memcpy(&delta2, zh + 532, 128);
  if (!g1Valid(alpha1) || !g1Valid(beta1) || !g1Valid(delta1)) badZkey("the zkey's alpha1, beta1 or delta1 is not on the curve");
  if (!g2Valid(beta2) || !g2Valid(gamma2) || !g2Valid(delta2)) badZkey("the zkey's beta2, gamma2 or delta2 is not on the twist");

  if (nWitness != nVars)
    badWtns("Invalid witness length. Circuit: " + std::to_string(nVars) + ", witness: " + std::to_string(nWitness));
  const uint64_t *w = (const uint64_t *)wb.section(2, (uint64_t)nVars * 32, false, "values");
  // witness values: below r, and w[0] = 1
  {
    int64_t bad = -1;
#pragma omp parallel for num_threads(nThreads) reduction(max : bad)
    for (uint64_t i = 0; i < nVars; i++) {
      if (!lessThan(w + 4 * i, Fr_rawq)) bad = std::max<int64_t>(bad, (int64_t)i);
    }
    if (bad >= 0) badWtns("the witness's value " + std::to_string(bad) + " is not below the field modulus r");
    if (w[0] != 1 || w[1] != 0 || w[2] != 0 || w[3] != 0) badWtns("the witness's first value (the constant signal) is not 1");
  }

  zb.section(3, (uint64_t)(nPublic + 1) * 64, true, "IC points");
  const uint8_t *coefs = zb.section(4, UINT64_MAX, true, "coefficients");
  if (zb.sections[4].second < 4) badZkey("the zkey's coefficient section is too short");
  const uint32_t nCoef = u32(coefs);
  zb.section(4, 4 + (uint64_t)nCoef * 44, true, "coefficients");
  const G1PointAffine *pA = (const G1PointAffine *)zb.section(5, (uint64_t)nVars * 64, true, "A points");
  const G1PointAffine *pB1 = (const G1PointAffine *)zb.section(6, (uint64_t)nVars * 64, true, "B1 points");
  const G2PointAffine *pB2 = (const G2PointAffine *)zb.section(7, (uint64_t)nVars * 128, true, "B2 points");
  const uint64_t nC = nVars - nPublic - 1;
  const G1PointAffine *pC = (const G1PointAffine *)zb.section(8, nC * 64, true, "C points");
  const G1PointAffine *pH = (const G1PointAffine *)zb.section(9, (uint64_t)domainSize * 64, true, "H points");
  checkG1s(pA, nVars, "A", nThreads);
  checkG1s(pB1, nVars, "B1", nThreads);
  checkG2s(pB2, nVars, "B2", nThreads);
  checkG1s(pC, nC, "C", nThreads);
  checkG1s(pH, domainSize, "H", nThreads);
  const double tLoad = nowMs();

  // ---- QAP: A and B evaluations on the domain from the coefficients, C = A.B (as snarkjs)
  const uint64_t n = domainSize;
  std::unique_ptr<FrE[]> a(new FrE[n]), b(new FrE[n]), c(new FrE[n]);
  memset(a.get(), 0, n * sizeof(FrE));
  memset(b.get(), 0, n * sizeof(FrE));
  FrE *ab[2] = {a.get(), b.get()};
  for (uint32_t i = 0; i < nCoef; i++) {
    const uint8_t *p = coefs + 4 + (uint64_t)i * 44;
    const uint32_t m = u32(p), ci = u32(p + 4), si = u32(p + 8);
    FrE v;
    memcpy(&v, p + 12, 32);
    if (m > 1 || ci >= n || si >= nVars || !lessThan(v.v, Fr_rawq))
      badZkey("the zkey's coefficient " + std::to_string(i) + " is out of range (matrix " + std::to_string(m) +
              ", constraint " + std::to_string(ci) + ", signal " + std::to_string(si) + ")");
    // coefficients are stored as c.R^2, the witness in normal form: the Montgomery product is c.w in Montgomery form
    FrE t;
    Fr.mul(t, v, *(const FrE *)(w + 4 * (uint64_t)si));
    Fr.add(ab[m][ci], ab[m][ci], t);
  }
#pragma omp parallel for num_threads(nThreads)
  for (uint64_t i = 0; i < n; i++) Fr.mul(c[i], a[i], b[i]);
  const double tQap = nowMs();

  // ---- to the odd coset: iFFT, times shift^i, FFT (shift = the 2n-th root of unity snarkjs uses)
  {
    Radix2 fft(power);
    // p[i] = shift^i / n: the iFFT's 1/n and the coset shift in one pass
    std::unique_ptr<FrE[]> powers(new FrE[n]);
    const FrE shift = fft.root2n();
    const int T = nThreads;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
      const uint64_t from = n * t / T, to = n * (t + 1) / T;
      if (from == to) continue;
      FrE p;
      uint64_t e = from;
      Fr.exp(p, shift, (uint8_t *)&e, sizeof e);
      Fr.mul(p, p, fft.invN());
      for (uint64_t i = from; i < to; i++) {
        Fr.copy(powers[i], p);
        Fr.mul(p, p, shift);
      }
    }
    // the three polynomials side by side, each on one thread (no barrier per FFT stage)
    FrE *polys[3] = {a.get(), b.get(), c.get()};
#pragma omp parallel for num_threads(nThreads < 3 ? nThreads : 3) schedule(dynamic, 1)
    for (int k = 0; k < 3; k++) {
      FrE *x = polys[k];
      fft.transform(x, true);
      for (uint64_t i = 0; i < n; i++) Fr.mul(x[i], x[i], powers[i]);
      fft.transform(x, false);
    }
  }
  // h = A.B - C on the coset, to normal form for the MSM
  std::unique_ptr<uint64_t[]> h(new uint64_t[4 * n]);
#pragma omp parallel for num_threads(nThreads)
  for (uint64_t i = 0; i < n; i++) {
    FrE t;
    Fr.mul(t, a[i], b[i]);
    Fr.sub(t, t, c[i]);
    Fr.fromMontgomery(*(FrE *)(h.get() + 4 * i), t);
  }
  a.reset();
  b.reset();
  c.reset();
  const double tFft = nowMs();

  // ---- MSMs
  const uint64_t *rLimbs = Fr_rawq;
  zkmsm::Msm<Curve<RawFq>> msm1(G1, nThreads);
  zkmsm::Msm<Curve<F2Field<RawFq>>> msm2(G2, nThreads);
  zkmsm::MsmStats sA, sB1, sB2, sC, sH;
  G1Point piA, pib1, piC, resH;
  G2Point piB;
  msm1.run(piA, pA, w, nVars, rLimbs, &sA);
  msm1.run(pib1, pB1, w, nVars, rLimbs, &sB1);
  const double tB2 = nowMs();
  msm2.run(piB, pB2, w, nVars, rLimbs, &sB2);
  const double tB2e = nowMs();
  msm1.run(piC, pC, w + 4 * (uint64_t)(nPublic + 1), nC, rLimbs, &sC);
  const double tH = nowMs();
  msm1.run(resH, pH, h.get(), n, rLimbs, &sH);
  const double tMsm = nowMs();

  // ---- blinding (snarkjs's formulas)
  mpz_t rm, rr, ss, t;
  mpz_init_set_str(rm, R_DEC, 10);
  mpz_init(rr);
  mpz_init(ss);
  mpz_init(t);
  uint8_t rB[32], sB[32], negRsB[32];
  randomScalar(rB, rm);
  randomScalar(sB, rm);
  mpz_import(rr, 32, -1, 1, -1, 0, rB);
  mpz_import(ss, 32, -1, 1, -1, 0, sB);
  mpz_mul(t, rr, ss);
  mpz_mod(t, t, rm);
  mpz_sub(t, rm, t);
  mpz_mod(t, t, rm);
  memset(negRsB, 0, 32);
  mpz_export(negRsB, nullptr, -1, 1, -1, 0, t);
  mpz_clears(rm, rr, ss, t, nullptr);

  G1Point tmp1;
  G2Point tmp2;
  G1.add(piA, piA, alpha1);
  G1.mulByScalar(tmp1, delta1, rB, 32);
  G1.add(piA, piA, tmp1);

  G2.add(piB, piB, beta2);
  G2.mulByScalar(tmp2, delta2, sB, 32);
  G2.add(piB, piB, tmp2);

  G1.add(pib1, pib1, beta1);
  G1.mulByScalar(tmp1, delta1, sB, 32);
  G1.add(pib1, pib1, tmp1);

  G1.add(piC, piC, resH);
  G1.mulByScalar(tmp1, piA, sB, 32);
  G1.add(piC, piC, tmp1);
  G1.mulByScalar(tmp1, pib1, rB, 32);
  G1.add(piC, piC, tmp1);
  G1.mulByScalar(tmp1, delta1, negRsB, 32);
  G1.add(piC, piC, tmp1);

  // ---- output
  std::string out;
  out.reserve(200 + (size_t)nPublic * 80);
  out += "{\"proof\":{\"pi_a\":" + g1Json(piA) + ",\"pi_b\":" + g2Json(piB) + ",\"pi_c\":" + g1Json(piC) +
         ",\"protocol\":\"groth16\",\"curve\":\"bn128\"},\"publicSignals\":[";
  mpz_t v;
  mpz_init(v);
  for (uint64_t i = 1; i <= nPublic; i++) {
    mpz_import(v, 4, -1, 8, -1, 0, w + 4 * i);
    char *s = mpz_get_str(nullptr, 10, v);
    if (i > 1) out += ",";
    out += "\"";
    out += s;
    out += "\"";
    free(s);
  }
  mpz_clear(v);
  const double tEnd = nowMs();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::ostringstream st;
  st.setf(std::ios::fixed);
  st.precision(1);
  st << "],\"stats\":{\"threads\":" << nThreads << ",\"nVars\":" << nVars << ",\"nPublic\":" << nPublic
     << ",\"domainSize\":" << domainSize << ",\"nCoef\":" << nCoef << ",\"ms\":{\"load\":" << (tLoad - t0)
     << ",\"qap\":" << (tQap - tLoad) << ",\"fft\":" << (tFft - tQap) << ",\"msmAB1\":" << (tB2 - tFft)
     << ",\"msmB2\":" << (tB2e - tB2) << ",\"msmC\":" << (tH - tB2e) << ",\"msmH\":" << (tMsm - tH)
     << ",\"total\":" << (tEnd - t0) << "},\"msm\":{\"A\":" << statsJson(sA) << ",\"B1\":" << statsJson(sB1)
     << ",\"B2\":" << statsJson(sB2) << ",\"C\":" << statsJson(sC) << ",\"H\":" << statsJson(sH)
     << "},\"cpuMs\":"
     << (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0
     << ",\"maxRssBytes\":" << (uint64_t)ru.ru_maxrss * 1024 << "}}\n";
  out += st.str();
  fwrite(out.data(), 1, out.size(), stdout);
  fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  // die with the process that started us (a proving-pool prover killed mid-proof leaves no orphan)
  const pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  try {
    return run(argc, argv);
  } catch (const Failure &f) {
    fprintf(stderr, "zkprove: %s: %s\n", f.code.c_str(), f.what());
    return f.exitCode;
  } catch (const std::exception &e) {
    fprintf(stderr, "zkprove: INTERNAL: %s\n", e.what());
    return 1;
  }
}

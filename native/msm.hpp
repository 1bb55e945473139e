// Multi-scalar multiplication (sum of k_i * P_i) over ffiasm's curve types, written for the
// scalars a Groth16 witness holds: many zeros and ones, many small signed values (LoRA weights
// are 8 or 16 bit integers, negatives are r - |w|), the rest full field elements.
//
// Each scalar k (normal form, 4 little-endian 64-bit limbs, k < r) is first made signed: when
// k > (r - 1) / 2 the point is negated and |k| = r - k used. Then by |k|:
//   0 (or the point is the identity): skipped;
//   1: the point is added once;
//   else: the point joins the class of its bit length (<= 8, 16, 32, 64, 128, 256 bits), and each
//   class runs a bucket (Pippenger) MSM over only its own bit width, with the window size that
//   minimises windows x (points + 2.8 x buckets) for that class.
// Within a window the buckets are affine and filled with batched affine additions (one shared
// inversion per batch of up to 1024 additions into distinct buckets: a point whose bucket already
// waits in the batch closes it; P + P and P + (-P) are done apart); the buckets' running sums are
// in xyzz coordinates. Windows with fewer than 2^8 buckets use xyzz buckets.
// Work is split in tasks (window x slice of the points), run on an OpenMP team of `nThreads`.
#ifndef ZKLORA_MSM_HPP
#define ZKLORA_MSM_HPP

#include <omp.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace zkmsm {

struct MsmStats {
  uint64_t skipped = 0;  // zero scalar or identity point
  uint64_t ones = 0;     // |k| = 1
  uint64_t classCount[6] = {0, 0, 0, 0, 0, 0};
};

static const unsigned CLASS_BITS[6] = {8, 16, 32, 64, 128, 256};

inline unsigned bitLength(const uint64_t k[4]) {
  for (int i = 3; i >= 0; i--) {
    if (k[i] != 0) return 64 * i + 64 - __builtin_clzll(k[i]);
  }
  return 0;
}

// a > b (256-bit, little-endian limbs)
inline bool greater(const uint64_t a[4], const uint64_t b[4]) {
  for (int i = 3; i >= 0; i--) {
    if (a[i] != b[i]) return a[i] > b[i];
  }
  return false;
}

// r = a - b, assuming a >= b
inline void sub256(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
  unsigned __int128 borrow = 0;
  for (int i = 0; i < 4; i++) {
    unsigned __int128 d = (unsigned __int128)a[i] - b[i] - borrow;
    r[i] = (uint64_t)d;
    borrow = (d >> 64) ? 1 : 0;
  }
}

inline uint64_t digit(const uint64_t k[4], unsigned off, unsigned c) {
  unsigned limb = off / 64, sh = off % 64;
  if (limb >= 4) return 0;
  uint64_t v = k[limb] >> sh;
  if (sh + c > 64 && limb + 1 < 4) v |= k[limb + 1] << (64 - sh);
  return v & ((uint64_t(1) << c) - 1);
}

template <typename G>
class Msm {
  typedef typename G::Point Point;
  typedef typename G::PointAffine Aff;

  struct Entry {
    uint64_t k[4];
    uint32_t idx;
    uint32_t neg;
  };

  G &g;
  const Aff *bases;
  int nThreads;

  void addBase(Point &acc, const Entry &e) {
    Aff &b = const_cast<Aff &>(bases[e.idx]);
    if (e.neg) {
      Aff t;
      g.neg(t, b);
      g.add(acc, acc, t);
    } else {
      g.add(acc, acc, b);
    }
  }

  static unsigned windowBits(uint64_t m, unsigned bits) {
    unsigned best = 1;
    double bestCost = 1e300;
    for (unsigned c = 1; c <= 20 && c <= bits; c++) {
      double w = (bits + c - 1) / c;
      double cost = w * ((double)m + 2.8 * (double)(uint64_t(1) << c));
      if (cost < bestCost) {
        bestCost = cost;
        best = c;
      }
    }
    return best;
  }

  static const uint64_t BATCH_MIN = 32;

  // One window of one slice with affine buckets and batched affine additions: each round adds up
  // to `batch` points to distinct buckets, sharing one field inversion (Montgomery's trick), about
  // 6 multiplications per addition instead of 10 for a mixed xyzz addition. Then the buckets'
  // running sum: out = sum_j (j + 1) * bucket[j].
  void affineWindow(Point &out, const std::vector<Entry> &es, uint64_t from, uint64_t to, unsigned off, unsigned c) {
    typedef typename std::remove_reference<decltype(std::declval<G>().F)>::type Fe;
    typedef typename Fe::Element E;
    Fe &F = g.F;
    const uint64_t nb = (uint64_t(1) << c) - 1;
    uint64_t batch = nb / 4;
    if (batch < BATCH_MIN) batch = BATCH_MIN;
    if (batch > 1024) batch = 1024;
    std::vector<Aff> bucket(nb);
    std::vector<uint8_t> has(nb, 0);
    std::vector<uint32_t> stamp(nb, 0);
    uint32_t round = 1;
    std::vector<uint32_t> bb;  // bucket of each pending addition
    std::vector<Aff> pp;       // the point (negated when the scalar is)
    std::vector<E> den, acc;
    bb.reserve(batch);
    pp.reserve(batch);
    den.resize(batch);
    acc.resize(batch);
    auto flush = [&]() {
      const size_t m = bb.size();
      if (m == 0) return;
      // den_k = x_P - x_bucket; special cases (equal x) are done apart and get den = 1
      E prod;
      F.copy(prod, F.one());
      for (size_t k = 0; k < m; k++) {
        Aff &A = bucket[bb[k]];
        Aff &P = pp[k];
        F.sub(den[k], P.x, A.x);
        if (F.isZero(den[k])) {
          if (F.eq(P.y, A.y)) {
            Point d;
            g.dbl(d, A);
            g.copy(A, d);
            if (g.isZero(A)) has[bb[k]] = 0;
          } else {
            has[bb[k]] = 0;  // P = -A
          }
          F.copy(den[k], F.one());
          bb[k] = UINT32_MAX;
        }
        F.copy(acc[k], prod);
        F.mul(prod, prod, den[k]);
      }
      E inv;
      F.inv(inv, prod);
      for (size_t k = m; k-- > 0;) {
        E dInv;
        F.mul(dInv, inv, acc[k]);  // 1 / den_k
        F.mul(inv, inv, den[k]);
        if (bb[k] == UINT32_MAX) continue;
        Aff &A = bucket[bb[k]];
        Aff &P = pp[k];
        E lambda, x3, t;
        F.sub(t, P.y, A.y);
        F.mul(lambda, t, dInv);
        F.square(x3, lambda);
        F.sub(x3, x3, A.x);
        F.sub(x3, x3, P.x);
        F.sub(t, A.x, x3);
        F.mul(t, t, lambda);
        F.sub(A.y, t, A.y);
        F.copy(A.x, x3);
      }
      bb.clear();
      pp.clear();
      round++;
    };
    for (uint64_t i = from; i < to; i++) {
      const Entry &e = es[i];
      const uint64_t d = digit(e.k, off, c);
      if (d == 0) continue;
      const uint32_t b = (uint32_t)d - 1;
      Aff &base = const_cast<Aff &>(bases[e.idx]);
      // this bucket already waits in the batch: add the batch first (never two in one bucket)
      if (has[b] && stamp[b] == round) flush();
      if (!has[b]) {  // (the flush may have emptied it: P + (-P))
        if (e.neg) g.neg(bucket[b], base);
        else g.copy(bucket[b], base);
        has[b] = 1;
        continue;
      }
      stamp[b] = round;
      bb.push_back(b);
      pp.emplace_back();
      if (e.neg) g.neg(pp.back(), base);
      else g.copy(pp.back(), base);
      if (bb.size() == batch) flush();
    }
    flush();
    Point run;
    g.copy(run, g.zero());
    g.copy(out, g.zero());
    for (uint64_t j = nb; j-- > 0;) {
      if (has[j]) g.add(run, run, bucket[j]);
      g.add(out, out, run);
    }
  }

  // Pippenger over entries whose |k| has at most `bits` bits.
  void bucketMsm(Point &out, const std::vector<Entry> &es, unsigned bits) {
    g.copy(out, g.zero());
    const uint64_t m = es.size();
    if (m == 0) return;
    const unsigned c = windowBits(m, bits);
    const unsigned W = (bits + c - 1) / c;
    const uint64_t nb = (uint64_t(1) << c) - 1;
    // slices of the points per window: enough tasks for the team, not more than the points allow
    uint64_t S = 1;
    if (W < 4 * (unsigned)nThreads) S = (4 * nThreads + W - 1) / W;
    uint64_t maxS = m / (nb + 1) + 1;
    if (S > maxS) S = maxS;
    const uint64_t nTasks = (uint64_t)W * S;
    std::vector<Point> part(nTasks);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nThreads)
    for (uint64_t t = 0; t < nTasks; t++) {
      const unsigned w = t / S;
      const uint64_t sl = t % S;
      const uint64_t from = m * sl / S, to = m * (sl + 1) / S;
      Point tot;
      // affine batches where there are enough points and buckets (the top window may have few)
      const unsigned eff = bits - w * c < c ? bits - w * c : c;
      if (to - from >= 4 * BATCH_MIN && eff >= 8) {
        affineWindow(tot, es, from, to, w * c, c);
      } else {
        std::vector<Point> bucket(nb);
        for (uint64_t j = 0; j < nb; j++) g.copy(bucket[j], g.zero());
        for (uint64_t i = from; i < to; i++) {
          const uint64_t d = digit(es[i].k, w * c, c);
          if (d != 0) addBase(bucket[d - 1], es[i]);
        }
        Point run;
        g.copy(run, g.zero());
        g.copy(tot, g.zero());
        for (uint64_t j = nb; j-- > 0;) {
          g.add(run, run, bucket[j]);
          g.add(tot, tot, run);
        }
      }
      g.copy(part[t], tot);
    }
    for (unsigned w = W; w-- > 0;) {
      if (w != W - 1) {
        for (unsigned d = 0; d < c; d++) g.dbl(out, out);
      }
      for (uint64_t sl = 0; sl < S; sl++) g.add(out, out, part[w * S + sl]);
    }
  }

 public:
  Msm(G &_g, int _nThreads) : g(_g), bases(nullptr), nThreads(_nThreads < 1 ? 1 : _nThreads) {}

  // out = sum_i scalars[i] * bases[i]; scalars: n x 4 limbs, normal form, each < r.
  void run(Point &out, const Aff *_bases, const uint64_t *scalars, uint64_t n, const uint64_t r[4],
           MsmStats *stats = nullptr) {
    bases = _bases;
    uint64_t half[4];
    for (int i = 0; i < 4; i++) half[i] = (r[i] >> 1) | (i < 3 ? (r[i + 1] << 63) : 0);
    std::vector<Entry> ones;
    std::vector<Entry> classes[6];
    MsmStats st;
    for (uint64_t i = 0; i < n; i++) {
      const uint64_t *k = scalars + 4 * i;
      if ((k[0] | k[1] | k[2] | k[3]) == 0 || g.isZero(const_cast<Aff &>(bases[i]))) {
        st.skipped++;
        continue;
      }
      Entry e;
      e.idx = (uint32_t)i;
      if (greater(k, half)) {
        sub256(e.k, r, k);
        e.neg = 1;
      } else {
        std::memcpy(e.k, k, 32);
        e.neg = 0;
      }
      const unsigned b = bitLength(e.k);
      if (b == 1) {
        ones.push_back(e);
        st.ones++;
        continue;
      }
      unsigned ci = 0;
      while (b > CLASS_BITS[ci]) ci++;
      classes[ci].push_back(e);
      st.classCount[ci]++;
    }
    // the ones: a plain sum, sliced over the team
    const int T = nThreads;
    std::vector<Point> onePart(T);
#pragma omp parallel for schedule(static, 1) num_threads(T)
    for (int t = 0; t < T; t++) {
      g.copy(onePart[t], g.zero());
      const uint64_t from = ones.size() * t / T, to = ones.size() * (t + 1) / T;
      for (uint64_t i = from; i < to; i++) addBase(onePart[t], ones[i]);
    }
    g.copy(out, g.zero());
    for (int t = 0; t < T; t++) g.add(out, out, onePart[t]);
    for (int ci = 0; ci < 6; ci++) {
      if (classes[ci].empty()) continue;
      unsigned bits = 0;
      for (const Entry &e : classes[ci]) {
        const unsigned b = bitLength(e.k);
        if (b > bits) bits = b;
      }
      Point p;
      bucketMsm(p, classes[ci], bits);
      g.add(out, out, p);
    }
    if (stats != nullptr) *stats = st;
  }
};

}  // namespace zkmsm

#endif  // ZKLORA_MSM_HPP

// Counter-keyed random streams: one xoshiro256** generator per driver.
//
// The 256-bit state of driver i is derived with splitmix64 from the call's
// root key (key0, key1), the driver's id and a stream tag, so the numbers a
// driver uses do not depend on the thread, chunk or block that handles it.
//
// Blackman D. and Vigna S. (2021) Scrambled linear pseudorandom number
// generators. ACM Trans. Math. Softw. 47(4). Steele G. L., Lea D. and
// Flood C. H. (2014) Fast splittable pseudorandom number generators. OOPSLA.
#pragma once
#include <cstdint>

namespace sc {

constexpr uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t MIX1 = 0xBF58476D1CE4E5B9ULL;
constexpr uint64_t MIX2 = 0x94D049BB133111EBULL;
constexpr uint64_t TAG = 0xD1B54A32D192ED03ULL;
constexpr double INV53 = 1.0 / 9007199254740992.0;

inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * MIX1;
    z = (z ^ (z >> 27)) * MIX2;
    return z ^ (z >> 31);
}

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

struct Rng {
    uint64_t s[4];

    // the stream of `driver` under the root key
    void seed(uint64_t key0, uint64_t key1, int64_t driver, uint64_t stream) {
        uint64_t z = mix(key0 ^ mix(key1 + GOLDEN * (static_cast<uint64_t>(driver) + 1)) ^ (stream * TAG));
        for (int n = 0; n < 4; ++n) {
            z += GOLDEN;
            s[n] = mix(z);
        }
        if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0) s[0] = GOLDEN;
    }

    uint64_t next() {
        const uint64_t result = rotl(s[1] * 5, 7) * 9;
        const uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }

    // uniform double in [0, 1) with 53 random bits
    double uniform() { return static_cast<double>(next() >> 11) * INV53; }

    // uniform double in (0, 1) (safe for log)
    double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * INV53; }

    // uniform integer in [0, n) for n >= 1 (bias below 2^-52 relative)
    int64_t below(int64_t n) {
        int64_t j = static_cast<int64_t>(uniform() * static_cast<double>(n));
        return j < n ? j : n - 1;
    }
};

}  // namespace sc

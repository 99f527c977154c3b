/* rng.c — the seeded random numbers every part of tg draws from:
 * xoshiro256** (Blackman & Vigna, 2018), Box-Muller normals, unbiased
 * integers below n, Fisher-Yates shuffles. */
#include <math.h>

#include "base.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 spreads one seed over the four state words, as the xoshiro
 * authors recommend, so that nearby seeds give unrelated streams. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void tg_rng_seed(tg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint64_t tg_rng_u64(tg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float tg_rng_uniform(tg_rng *r) { return (float)(tg_rng_u64(r) >> 40) * 0x1.0p-24f; }

float tg_rng_normal(tg_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller on u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - (double)(tg_rng_u64(r) >> 11) * 0x1.0p-53;
    double u2 = (double)(tg_rng_u64(r) >> 11) * 0x1.0p-53;
    double radius = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586 * u2;
    r->spare = (float)(radius * sin(angle));
    r->has_spare = 1;
    return (float)(radius * cos(angle));
}

/* Lemire's multiply-shift with rejection: unbiased for every n. */
uint32_t tg_rng_below(tg_rng *r, uint32_t n)
{
    if (n == 0) return 0;
    uint64_t m = (tg_rng_u64(r) >> 32) * n;
    if ((uint32_t)m < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while ((uint32_t)m < threshold) m = (tg_rng_u64(r) >> 32) * n;
    }
    return (uint32_t)(m >> 32);
}

void tg_rng_shuffle(tg_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tg_rng_below(r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void tg_rng_permutation(tg_rng *r, int *a, int n)
{
    for (int i = 0; i < n; i++) a[i] = i;
    tg_rng_shuffle(r, a, n);
}

/* chain: each site's log as a signed hash chain (see chain.h). */
#include "chain.h"

#include <sodium.h>
#include <string.h>

#include "op.h"

#define CHAIN_DOMAIN "BL-CHAIN-1"
#define PUSH_DOMAIN "BL-PUSH-1"

void
chain_start(const char *origin, uint8_t out[CHAIN_BYTES])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, CHAIN_BYTES);
	crypto_generichash_update(&h, (const uint8_t *)CHAIN_DOMAIN,
	    strlen(CHAIN_DOMAIN));
	crypto_generichash_update(&h, (const uint8_t *)origin, strlen(origin));
	crypto_generichash_final(&h, out, CHAIN_BYTES);
}

void
chain_next(const uint8_t prev[CHAIN_BYTES], const uint8_t *body, size_t len,
    uint8_t out[CHAIN_BYTES])
{
	uint8_t link[CHAIN_BYTES + OP_HASH_BYTES];

	memcpy(link, prev, CHAIN_BYTES);
	op_hash(body, len, link + CHAIN_BYTES);
	crypto_generichash(out, CHAIN_BYTES, link, sizeof link, NULL, 0);
}

/* The signed message: domain, origin, a 0 byte, be64(seq), chain. */
static size_t
s_message(const char *origin, uint64_t seq, const uint8_t chain[CHAIN_BYTES],
    uint8_t *buf)
{
	size_t n = 0, o = strlen(origin);
	int i;

	memcpy(buf + n, PUSH_DOMAIN, strlen(PUSH_DOMAIN));
	n += strlen(PUSH_DOMAIN);
	memcpy(buf + n, origin, o);
	n += o;
	buf[n++] = 0;
	for (i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(seq >> (8 * i));
	memcpy(buf + n, chain, CHAIN_BYTES);
	return n + CHAIN_BYTES;
}

#define MESSAGE_MAX (sizeof PUSH_DOMAIN + OP_SITE_MAX + 1 + 8 + CHAIN_BYTES)

void
chain_sign(const uint8_t *sk, const char *origin, uint64_t seq,
    const uint8_t chain[CHAIN_BYTES], uint8_t sig[CHAIN_SIG_BYTES])
{
	uint8_t m[MESSAGE_MAX];
	size_t n = s_message(origin, seq, chain, m);

	crypto_sign_detached(sig, NULL, m, n, sk);
}

int
chain_verify(const uint8_t pk[CHAIN_PK_BYTES], const char *origin, uint64_t seq,
    const uint8_t chain[CHAIN_BYTES], const uint8_t sig[CHAIN_SIG_BYTES])
{
	uint8_t m[MESSAGE_MAX];
	size_t n = s_message(origin, seq, chain, m);

	return crypto_sign_verify_detached(sig, m, n, pk) == 0;
}

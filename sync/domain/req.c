/* req: request field readers (see req.h). */
#include "req.h"

#include <string.h>

/* ISO 4217 codes of currencies in use. */
static const char s_currencies[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD "
    "BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE "
    "CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS "
    "KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD "
    "MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR "
    "PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK "
    "SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD "
    "TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR "
    "ZMW ZWL";

int
req_currency_valid(const char *code)
{
	size_t i;

	if (strlen(code) != 3)
		return 0;
	/* Codes sit every 4 bytes: "AED AFN ... ZWL". */
	for (i = 0; i + 3 <= sizeof s_currencies - 1; i += 4)
		if (memcmp(s_currencies + i, code, 3) == 0)
			return 1;
	return 0;
}

int
req_text(const json_t *obj, const char *name, size_t max, int required,
    const char **out, err_t *err)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return err_set(err, ERR_BAD_REQUEST, "%s: missing",
			    name);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(err, ERR_BAD_REQUEST, "%s: must be a string",
		    name);
	if (json_string_length(v) == 0 || json_string_length(v) > max)
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: must be 1 to %zu characters", name, max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: must not contain NUL characters", name);
	*out = json_string_value(v);
	return 0;
}

int
req_int(const json_t *obj, const char *name, int64_t min, int64_t max,
    int required, int64_t dflt, int64_t *out, err_t *err)
{
	json_t *v = json_object_get(obj, name);

	*out = dflt;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return err_set(err, ERR_BAD_REQUEST, "%s: missing",
			    name);
		return 0;
	}
	if (!json_is_integer(v))
		return err_set(err, ERR_BAD_REQUEST, "%s: must be an integer",
		    name);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: must be an integer from %lld to %lld", name,
		    (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

int
req_bool(const json_t *obj, const char *name, int dflt, int *out, err_t *err)
{
	json_t *v = json_object_get(obj, name);

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: must be true or false", name);
	*out = json_is_true(v);
	return 0;
}

int
req_enum(const json_t *obj, const char *name, const char *const *choices,
    int required, const char **out, err_t *err)
{
	const char *const *c;
	char list[256];
	size_t off = 0;

	if (req_text(obj, name, REQ_ID_MAX, required, out, err))
		return -1;
	if (*out == NULL)
		return 0;
	for (c = choices; *c != NULL; c++)
		if (strcmp(*c, *out) == 0)
			return 0;
	list[0] = '\0';
	for (c = choices; *c != NULL && off < sizeof list; c++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
		    c == choices ? "" : ", ", *c);
	err_set(err, ERR_BAD_REQUEST, "%s: '%s' is not one of %s", name, *out,
	    list);
	*out = NULL;
	return -1;
}

int
req_currency(const json_t *obj, const char *name, int required,
    const char **out, err_t *err)
{
	if (req_text(obj, name, 3, required, out, err))
		return -1;
	if (*out != NULL && !req_currency_valid(*out)) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: '%s' is not an ISO 4217 currency code", name, *out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
req_only(const json_t *obj, const char *const *allowed, err_t *err)
{
	const char *key;
	json_t *v;
	const char *const *a;

	json_object_foreach((json_t *)obj, key, v) {
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL)
			return err_set(err, ERR_BAD_REQUEST,
			    "%s: unknown field", key);
	}
	return 0;
}

const char *
req_query(const json_t *query, const char *name)
{
	const char *v = json_string_value(json_object_get(query, name));

	return v != NULL && v[0] != '\0' ? v : NULL;
}

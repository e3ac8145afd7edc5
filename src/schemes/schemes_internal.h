/* SPDX-License-Identifier: MIT */
/*
 * Private to schemes. The shell-script writers the schemes' example operations share
 * (example.c): each appends to `b` while *rc is MH_OK and records the first failure in *rc.
 */
#ifndef MH_SCHEMES_SCHEMES_INTERNAL_H
#define MH_SCHEMES_SCHEMES_INTERNAL_H

#include "schemes/schemes.h"

/* `s` as one single-quoted shell word. */
void mh_scheme__sh_word(struct mh_buf *b, enum mh_err *rc, const char *s);
/* `s` and a newline. */
void mh_scheme__sh_line(struct mh_buf *b, enum mh_err *rc, const char *s);
/* VAR='value' and a newline. */
void mh_scheme__sh_assign(struct mh_buf *b, enum mh_err *rc, const char *var, const char *value);
/* {"name", "value", "note"?}, new: one setting of a provider's own form. */
json_t *mh_scheme__setting(const char *name, const char *value, const char *note);
/* The string member `name` of `vf`, or `def` when absent. */
const char *mh_scheme__str(json_t *vf, const char *name, const char *def);

/* The end of an HMAC scheme's verify: the crypto result `r` into the verdict, `rc` passed on. */
enum mh_err mh_scheme__verdict(struct mh_scheme_verdict *out, const struct mh_crypto_sig_result *r,
                               enum mh_err rc);
/* The end of a one-header sign: `value` (stolen) as header `name` when `rc` is MH_OK, else the
 * error, saying which computation failed (`what`). */
enum mh_err mh_scheme__signed(struct mh_scheme_headers *out, const char *name, char *value,
                              enum mh_err rc, const char *what, struct mh_err_info *info);

/* The one setting of the schemes that sign a timestamp (Stripe, Standard Webhooks): how far a
 * signed time may be from the clock, and its loader. */
extern const struct mh_scheme_field mh_scheme__tolerance_fields[];
void mh_scheme__load_tolerance(json_t *vf, struct mh_scheme_settings *s);

#endif

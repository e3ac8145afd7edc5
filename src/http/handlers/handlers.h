/* SPDX-License-Identifier: MIT */
/* Private to http: the handlers of the route table (routes.c), one file per resource. */
#ifndef MH_HTTP_HANDLERS_H
#define MH_HTTP_HANDLERS_H

#include "core/config.h"
#include "http/http.h"

/* Shortest password accepted for new accounts (NIST SP 800-63B's minimum is 8). */
#define MH_H_MIN_PASSWORD 8

/* Hashes a password with the configured argon2id parameters (new string in *out). */
MH_MUSTCHECK enum mh_err mh_h_hash_password(const struct mh_config *cfg, const char *password,
                                            char **out);

/* health.c */
void mh_h_healthz(struct mh_http_req *req, void *app);
void mh_h_readyz(struct mh_http_req *req, void *app);
/* auth.c */
void mh_h_login(struct mh_http_req *req, void *app);
void mh_h_logout(struct mh_http_req *req, void *app);
void mh_h_me(struct mh_http_req *req, void *app);
void mh_h_signup(struct mh_http_req *req, void *app);
/* tokens.c */
void mh_h_tokens_list(struct mh_http_req *req, void *app);
void mh_h_tokens_create(struct mh_http_req *req, void *app);
void mh_h_tokens_revoke(struct mh_http_req *req, void *app);
/* projects.c */
void mh_h_projects_list(struct mh_http_req *req, void *app);
void mh_h_projects_create(struct mh_http_req *req, void *app);
void mh_h_projects_get(struct mh_http_req *req, void *app);
void mh_h_projects_update(struct mh_http_req *req, void *app);
void mh_h_projects_delete(struct mh_http_req *req, void *app);
/* members.c */
void mh_h_members_list(struct mh_http_req *req, void *app);
void mh_h_members_add(struct mh_http_req *req, void *app);
void mh_h_members_update(struct mh_http_req *req, void *app);
void mh_h_members_remove(struct mh_http_req *req, void *app);
/* audit.c */
void mh_h_audit_list(struct mh_http_req *req, void *app);
void mh_h_audit_verify(struct mh_http_req *req, void *app);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what an http_call sends (issue 18): secrets are resolved only where the
 * workflow's own template text put a placeholder, never where data spells one, alone or beside
 * another value; values inserted into a url are percent-encoded for their place and can never
 * form its scheme or host; the raw form keeps '/' and '?' but still cannot reach the host; and
 * replay rebuilds exactly the request the sender resolves.
 */
#include "engine/engine_internal.h"
#include "test_engine_helpers.h"

#define TOKEN "s3cret-token-value"

/* Compiles a one-node workflow whose http_call has `config` (JSON text). */
static struct mh_wf *http_wf(const char *config)
{
    json_error_t jerr;
    json_t *cfg = json_loads(config, 0, &jerr);
    if (cfg == NULL)
        mh_t_fail(__FILE__, __LINE__, "bad config: %s", jerr.text);
    json_t *def = json_pack("{s:[{s:s,s:s,s:o,s:{s:i,s:i}}],s:[]}", "nodes", "id", "call", "type",
                            "http_call", "config", cfg, "position", "x", 0, "y", 0, "edges");
    json_t *errors = NULL;
    struct mh_wf *wf = NULL;
    if (mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        char *s = json_dumps(errors, JSON_INDENT(1));
        mh_t_fail(__FILE__, __LINE__, "does not compile: %s", s);
    }
    json_decref(errors);
    json_decref(def);
    return wf;
}

/* The validation errors of that workflow (new reference; an empty array when it is valid). */
static json_t *http_errors(const char *config)
{
    json_t *cfg = json_loads(config, 0, NULL);
    MH_T_ASSERT(cfg != NULL);
    json_t *def = json_pack("{s:[{s:s,s:s,s:o,s:{s:i,s:i}}],s:[]}", "nodes", "id", "call", "type",
                            "http_call", "config", cfg, "position", "x", 0, "y", 0, "edges");
    json_t *errors = NULL;
    (void)!mh_engine_wf_validate(def, &errors);
    json_decref(def);
    return errors ? errors : json_array();
}

/* Starts a run of `wf` with trigger body `body` and returns its http action's request (new
 * reference); the log is left in `l`. */
static json_t *first_request(struct mh_wf *wf, struct tlog *l, const char *body)
{
    struct mh_engine_result r;
    tlog_start(l, body);
    advance_at(wf, l, T0, NULL, NULL, 0, &r);
    if (r.n_actions != 1 || r.actions[0].kind != MH_ACTION_HTTP) {
        long f = tlog_find(l, MH_EV_STEP_FAILED, "call");
        char *s = f >= 0 ? jtext(l->ev[f].payload) : NULL;
        mh_t_fail(__FILE__, __LINE__, "no http action (%s)", s ? s : "no failure");
    }
    json_t *req = json_incref(r.actions[0].request);
    mh_engine_result_cleanup(&r);
    return req;
}

/* Resolves `req` with TOKEN as the secret TOKEN; fails the test on an error. */
static void resolve(json_t *req, struct mh_engine_wire *w)
{
    json_t *values = json_pack("{s:s}", "TOKEN", TOKEN);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_engine_request_resolve(req, values, 0, w, &info);
    json_decref(values);
    if (rc != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "resolve: %s", info.message);
}

/* The error kind of the step's failure in the log. */
static const char *failure_kind(const struct tlog *l)
{
    long f = tlog_find(l, MH_EV_STEP_FAILED, "call");
    MH_T_ASSERT(f >= 0);
    return json_string_value(json_object_get(json_object_get(l->ev[f].payload, "error"), "kind"));
}

MH_TEST(adjacent_values_never_form_a_secret_placeholder)
{
    /* Issue 18 defect 3, as reported: "{{" and "secrets.TOKEN}}" side by side in the body. */
    struct mh_wf *wf = http_wf("{\"url\": \"https://api.example.com/hook\", \"headers\": "
                               "{\"Authorization\": \"Bearer {{secrets.TOKEN}}\", \"X-Ab\": "
                               "\"{{trigger.body.a}}{{trigger.body.b}}\"}, \"query\": {\"q\": "
                               "\"{{trigger.body.a}}{{trigger.body.b}}\"}, \"body\": "
                               "\"{{trigger.body.a}} {{trigger.body.b}}\"}");
    struct tlog l = {0};
    json_t *req = first_request(wf, &l, "{\"a\": \"{{\", \"b\": \"secrets.TOKEN}}\"}");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(req, "body")), "{{ secrets.TOKEN}}");
    struct mh_engine_wire w;
    resolve(req, &w);
    MH_T_ASSERT_EQ(w.body_len, strlen("{{ secrets.TOKEN}}"));
    MH_T_ASSERT_MEM_EQ(w.body, "{{ secrets.TOKEN}}", w.body_len);
    MH_T_ASSERT_EQ(w.n_lines, 3);
    MH_T_ASSERT_STR_EQ(w.lines[0], "Authorization: Bearer " TOKEN);
    MH_T_ASSERT_STR_EQ(w.lines[1], "X-Ab: {{secrets.TOKEN}}");
    MH_T_ASSERT(strncmp(w.lines[2], "idempotency-key: mh-", 20) == 0);
    MH_T_ASSERT_STR_EQ(w.url, "https://api.example.com/hook?q=%7B%7Bsecrets.TOKEN%7D%7D");
    MH_T_ASSERT(w.lines[3] == NULL);
    mh_engine_wire_cleanup(&w);
    MH_T_ASSERT(w.url == NULL && w.lines == NULL && w.body == NULL);
    json_decref(req);
    tlog_free(&l);

    /* Whatever spacing a value uses, and a whole placeholder in one value, in a template or
     * in a JSON body: the text arrives as it is and the only secret sent is the header's. */
    static const char *const spellings[] = {
        "{\"a\": \"{{secrets.TOKEN}}\", \"b\": \"\"}",
        "{\"a\": \"{{\\tsecrets.TOKEN \", \"b\": \"}}\"}",
        "{\"a\": \"{\", \"b\": \"{secrets.TOKEN}}\"}",
        "{\"a\": \"{{secrets.\", \"b\": \"TOKEN}}\"}",
    };
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        req = first_request(wf, &l, spellings[i]);
        resolve(req, &w);
        MH_T_ASSERT(memmem(w.body, w.body_len, TOKEN, strlen(TOKEN)) == NULL);
        MH_T_ASSERT(strstr(w.lines[1], TOKEN) == NULL);
        MH_T_ASSERT(strstr(w.url, TOKEN) == NULL);
        MH_T_ASSERT_STR_EQ(w.lines[0], "Authorization: Bearer " TOKEN);
        mh_engine_wire_cleanup(&w);
        json_decref(req);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);

    wf = http_wf("{\"url\": \"https://api.example.com/hook\", \"headers\": {\"Authorization\": "
                 "\"Bearer {{secrets.TOKEN}}\"}, \"body\": {\"expression\": \"trigger.body\"}}");
    req = first_request(wf, &l, "{\"a\": \"{{secrets.TOKEN}}\"}");
    resolve(req, &w);
    MH_T_ASSERT_STR_EQ(w.body, "{\"a\":\"{{secrets.TOKEN}}\"}");
    mh_engine_wire_cleanup(&w);
    json_decref(req);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(secrets_resolve_only_at_recorded_spans)
{
    /* Secrets in every place a template may hold one; the url's is inserted as it is. */
    struct mh_wf *wf = http_wf(
        "{\"url\": \"https://api.example.com/{{secrets.TOKEN}}/{{trigger.body.id}}?k="
        "{{ secrets.TOKEN }}#frag\", \"headers\": {\"X-Key\": \"{{secrets.TOKEN}}\"}, \"query\": "
        "{\"t\": \"{{secrets.TOKEN}}&\"}, \"body\": "
        "\"x={{secrets.TOKEN}};y={{trigger.body.id}}\"}");
    struct tlog l = {0};
    json_t *req = first_request(wf, &l, "{\"id\": \"a/b\"}");
    ASSERT_JSON_EQ(json_object_get(req, "placeholders"),
                   "{\"url\": [[24, 41, \"TOKEN\"], [50, 69, \"TOKEN\"]], \"headers\": {\"X-Key\": "
                   "[[0, 17, \"TOKEN\"]]}, \"query\": {\"t\": [[0, 17, \"TOKEN\"]]}, \"body\": "
                   "[[2, 19, \"TOKEN\"]]}");
    ASSERT_JSON_EQ(json_object_get(req, "secrets"), "[\"TOKEN\"]");
    struct mh_engine_wire w;
    resolve(req, &w);
    MH_T_ASSERT_STR_EQ(w.url,
                       "https://api.example.com/" TOKEN "/a%2Fb?k=" TOKEN "&t=" TOKEN "%26#frag");
    MH_T_ASSERT_STR_EQ(w.lines[0], "X-Key: " TOKEN);
    MH_T_ASSERT_STR_EQ(w.body, "x=" TOKEN ";y=a/b");
    mh_engine_wire_cleanup(&w);

    /* Spans that no longer match the text (an edited log) are refused, never guessed at. */
    json_t *bad = json_deep_copy(req);
    json_t *span = json_array_get(json_object_get(json_object_get(bad, "placeholders"), "body"), 0);
    json_array_set_new(span, 0, json_integer(3));
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *values = json_pack("{s:s}", "TOKEN", TOKEN);
    MH_T_ASSERT_EQ(mh_engine_request_resolve(bad, values, 0, &w, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.kind, "invalid_request");
    MH_T_ASSERT(strstr(info.message, "body") != NULL);
    MH_T_ASSERT(w.url == NULL && w.lines == NULL);
    json_array_set_new(span, 0, json_integer(2));
    json_array_set_new(span, 1, json_integer(100000));
    MH_T_ASSERT_EQ(mh_engine_request_resolve(bad, values, 0, &w, &info), MH_EINVAL);
    json_decref(bad);

    /* A span naming a secret the request does not list, or one that was not resolved. */
    bad = json_deep_copy(req);
    span = json_array_get(json_object_get(json_object_get(bad, "placeholders"), "body"), 0);
    json_array_set_new(span, 2, json_string("OTHER"));
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(bad, values, 0, &w, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.kind, "secret");
    json_decref(bad);
    json_t *none = json_object();
    MH_T_ASSERT_EQ(mh_engine_request_resolve(req, none, 0, &w, &info), MH_EINVAL);
    json_decref(none);

    /* A request recorded without spans (before they were recorded) is not guessed at either. */
    bad = json_deep_copy(req);
    json_object_del(bad, "placeholders");
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(bad, values, 0, &w, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "resume the run") != NULL);
    json_decref(bad);
    json_decref(values);

    /* A secret whose value holds a line break cannot add a header; the message keeps it out. */
    values = json_pack("{s:s}", "TOKEN", "v\r\nX-Injected: 1");
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(req, values, 0, &w, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "X-Key") != NULL);
    MH_T_ASSERT(strstr(info.message, "Injected") == NULL);
    json_decref(values);
    json_decref(req);
    tlog_free(&l);
    mh_engine_wf_unref(wf);

    /* Without secrets nothing is recorded beside the request, and spare lines are left. */
    wf = http_wf("{\"url\": \"https://api.example.com/x\"}");
    req = first_request(wf, &l, "{}");
    MH_T_ASSERT(json_object_get(req, "placeholders") == NULL);
    values = json_object();
    MH_T_ASSERT_EQ(mh_engine_request_resolve(req, values, 3, &w, &info), MH_OK);
    MH_T_ASSERT_EQ(w.n_lines, 1);
    MH_T_ASSERT(w.body == NULL);
    w.lines[1] = mh_xstrdup("a: 1");
    w.lines[2] = mh_xstrdup("b: 2");
    w.lines[3] = mh_xstrdup("c: 3");
    MH_T_ASSERT(w.lines[4] == NULL);
    mh_engine_wire_cleanup(&w);
    json_decref(values);
    json_decref(req);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(url_values_are_percent_encoded_for_their_place)
{
    json_t *ctx = json_loads(
        "{\"trigger\": {\"body\": {\"id\": \"../admin?x=\", \"dots\": \"..\", \"dot\": \".\", "
        "\"v\": \"1.2\", \"q\": \"a b&c=d#e\", \"u\": \"caf\\u00e9\", \"n\": 17, \"o\": {\"k\": "
        "1}, "
        "\"crlf\": \"a\\r\\nb\", \"path\": \"/docs/a b/../c?x=1#f\", \"empty\": \"\"}}}",
        0, NULL);
    static const struct {
        const char *tpl, *want;
    } cases[] = {
        /* The example: the value stays one segment. */
        {"http://host/orders/{{trigger.body.id}}", "http://host/orders/..%2Fadmin%3Fx%3D"},
        /* A value of dots alone cannot make a "." or ".." segment; other dots stay. */
        {"https://h/a/{{trigger.body.dots}}/b", "https://h/a/%2E%2E/b"},
        {"https://h/a/{{trigger.body.dot}}{{trigger.body.dot}}/b", "https://h/a/%2E%2E/b"},
        {"https://h/v{{trigger.body.v}}/x.json", "https://h/v1.2/x.json"},
        /* Query and fragment values cannot add parameters or end the query. */
        {"https://h/s?q={{trigger.body.q}}&n={{trigger.body.n}}",
         "https://h/s?q=a%20b%26c%3Dd%23e&n=17"},
        {"https://h/s#{{trigger.body.q}}", "https://h/s#a%20b%26c%3Dd%23e"},
        {"https://h?{{trigger.body.q}}", "https://h?a%20b%26c%3Dd%23e"},
        /* UTF-8, JSON and control characters are encoded byte by byte. */
        {"https://h/{{trigger.body.u}}/{{trigger.body.o}}",
         "https://h/caf%C3%A9/%7B%22k%22%3A1%7D"},
        {"https://h/{{trigger.body.crlf}}", "https://h/a%0D%0Ab"},
        /* The raw form keeps the url's delimiters and encodes what no url may hold. */
        {"https://h/files{{raw trigger.body.path}}", "https://h/files/docs/a%20b/../c?x=1#f"},
        {"https://h/{{ raw trigger.body.crlf }}", "https://h/a%0D%0Ab"},
        /* Secrets and the text around them are the workflow's own. */
        {"{{secrets.BASE}}/orders/{{trigger.body.id}}",
         "{{secrets.BASE}}/orders/..%2Fadmin%3Fx%3D"},
        {"https://{{secrets.HOST}}/{{trigger.body.dots}}", "https://{{secrets.HOST}}/%2E%2E"},
        {"{{secrets.BASE}}?q={{trigger.body.q}}", "{{secrets.BASE}}?q=a%20b%26c%3Dd%23e"},
        {"https://user:pw@[::1]:8080/{{trigger.body.empty}}x", "https://user:pw@[::1]:8080/x"},
        /* A field named raw is still JMESPath. */
        {"https://h/{{raw}}/{{raw.x}}", "https://h//"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_engine_url_template_render(cases[i].tpl, ctx, &out, &info);
        if (rc != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: %s", cases[i].tpl, info.message);
        if (strcmp(out, cases[i].want) != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: got %s, want %s", cases[i].tpl, out, cases[i].want);
        free(out);
    }
    json_decref(ctx);
}

MH_TEST(url_scheme_and_host_never_come_from_data)
{
    json_t *ctx = json_loads("{\"trigger\": {\"body\": {\"h\": \"evil.example\"}}}", 0, NULL);
    static const struct {
        const char *tpl;
        long offset;
    } bad[] = {
        {"{{trigger.body.url}}", 0},
        {"{{raw trigger.body.url}}", 0},
        {"https://{{trigger.body.h}}/x", 8},
        {"https://{{raw trigger.body.h}}/x", 8},
        {"https://api.example.com{{trigger.body.p}}", 23},
        {"https://api.{{trigger.body.h}}/x", 12},
        {"http://host:{{trigger.body.port}}/x", 12},
        {"https://user:{{trigger.body.pw}}@host/x", 13},
        {"{{trigger.body.scheme}}://host/x", 0},
        {"http{{trigger.body.s}}://host/x", 4},
        {"{{secrets.BASE}}{{trigger.body.p}}", 16},
        {"{{secrets.SCHEME}}://{{trigger.body.h}}/x", 21},
        {"https://{{secrets.HOST}}{{trigger.body.h}}/x", 24},
        {"{{secrets.BASE}}//{{trigger.body.h}}/x", 18},
        {"/relative/{{trigger.body.p}}", 10},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_engine_url_template_render(bad[i].tpl, ctx, &out, &info);
        if (rc != MH_EINVAL || out != NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: accepted (%s)", bad[i].tpl, out ? out : "");
        MH_T_ASSERT_STR_EQ(info.kind, "invalid_url");
        if (info.offset != bad[i].offset)
            mh_t_fail(__FILE__, __LINE__, "%s: offset %ld, want %ld", bad[i].tpl, info.offset,
                      bad[i].offset);
        MH_T_ASSERT(strstr(info.message, "scheme or host") != NULL);
    }
    json_decref(ctx);

    /* Validation names the field and the code, so the editor can point at it. */
    json_t *errors = http_errors("{\"url\": \"https://{{trigger.body.tenant}}.example.com/x\"}");
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    json_t *e = json_array_get(errors, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e, "path")), "/nodes/0/config/url");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e, "code")), "invalid_url");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(e, "offset")), 8);
    json_decref(errors);

    /* The raw form only means something in a url. */
    errors = http_errors("{\"url\": \"https://h/x\", \"headers\": {\"X-A\": \"{{raw "
                         "trigger.body.a}}\"}}");
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    e = json_array_get(errors, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e, "path")),
                       "/nodes/0/config/headers/X-A");
    MH_T_ASSERT(
        strstr(json_string_value(json_object_get(e, "message")), "only applies to the url"));
    json_decref(errors);
    errors = http_errors("{\"url\": \"https://h/x\", \"body\": \"{{raw trigger.body.a}}\"}");
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    json_decref(errors);
    /* A raw form whose expression does not parse reports the expression's own offset. */
    errors = http_errors("{\"url\": \"https://h/{{raw a..b}}\"}");
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(errors, 0), "offset")), 18);
    json_decref(errors);

    /* Urls the workflows of the guide use keep working. */
    static const char *const good[] = {
        "https://api.example.com/orders/{{ trigger.body.id }}",
        "https://crm.example.com/customers",
        "{{secrets.BASE_URL}}/v1/{{ trigger.body.id }}",
        "http://127.0.0.1:8080/echo?k={{secrets.API_TOKEN}}&id={{trigger.body.id}}",
        "https://api.example.com/search?q={{trigger.body.q}}#{{trigger.body.f}}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char cfg[512];
        snprintf(cfg, sizeof(cfg), "{\"url\": \"%s\"}", good[i]);
        errors = http_errors(cfg);
        if (json_array_size(errors) != 0)
            mh_t_fail(__FILE__, __LINE__, "%s refused", good[i]);
        json_decref(errors);
    }
}

MH_TEST(header_values_stay_one_line)
{
    struct mh_wf *wf =
        http_wf("{\"url\": \"https://h/x\", \"headers\": {\"X-Note\": \"n={{trigger.body.n}}\"}}");
    static const char *const notes[] = {"\"a\\r\\nX-Injected: 1\"",
                                        "\"a\\nb\"",
                                        "\"a\\rb\"",
                                        "\"a\\u007fb\"",
                                        "\"a\\u001bb\"",
                                        NULL};
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        char body[128];
        if (notes[i] != NULL) {
            snprintf(body, sizeof(body), "{\"n\": %s}", notes[i]);
            tlog_start(&l, body);
        } else { /* a NUL, which JSON text cannot carry into tlog_start */
            tlog_start_with(&l,
                            json_pack("{s:{s:o},s:{},s:{},s:s}", "body", "n",
                                      json_stringn("a\0b", 3), "headers", "query", "received_at",
                                      "2023-11-14T22:13:20.000Z"),
                            NULL);
        }
        advance_at(wf, &l, T0, NULL, NULL, 0, &r);
        MH_T_ASSERT_EQ(r.n_actions, 1);
        MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_FINISHED);
        MH_T_ASSERT_STR_EQ(failure_kind(&l), "template");
        mh_engine_result_cleanup(&r);
        tlog_free(&l);
    }
    /* A tab is a legal part of a field value. */
    struct tlog l = {0};
    json_t *req = first_request(wf, &l, "{\"n\": \"a\\tb\"}");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(req, "headers"), "X-Note")), "n=a\tb");
    json_decref(req);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(replay_rebuilds_the_request_the_sender_resolves)
{
    struct mh_wf *wf = http_wf(
        "{\"url\": \"{{secrets.BASE}}/orders/{{trigger.body.id}}?s={{trigger.body.s}}\", "
        "\"headers\": {\"Authorization\": \"Bearer {{secrets.TOKEN}}\"}, \"query\": {\"p\": "
        "\"{{trigger.body.s}}\"}, \"body\": \"{{trigger.body.a}} {{trigger.body.b}} "
        "{{secrets.TOKEN}}\"}");
    struct tlog l = {0};
    json_t *req = first_request(wf, &l,
                                "{\"id\": \"../admin?x=\", \"s\": \"a&b\", \"a\": \"{{\", \"b\": "
                                "\"secrets.TOKEN}}\"}");
    json_t *values = json_pack("{s:s,s:s}", "TOKEN", TOKEN, "BASE", "https://api.example.com");
    struct mh_engine_wire w;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(req, values, 0, &w, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(w.url, "https://api.example.com/orders/..%2Fadmin%3Fx%3D?s=a%26b&p=a%26b");
    MH_T_ASSERT_STR_EQ(w.body, "{{ secrets.TOKEN}} " TOKEN);
    mh_engine_wire_cleanup(&w);
    json_decref(values);
    json_decref(req);

    struct mh_event rep;
    struct mh_engine_result r;
    report_response(&rep, "call", 1, 200, NULL, "ok");
    advance_at(wf, &l, T0 + 5, NULL, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
    json_decref(report);

    /* Replay notices a recorded span that rendering would not have produced. */
    long s = tlog_find(&l, MH_EV_STEP_STARTED, "call");
    MH_T_ASSERT(s >= 0);
    json_t *ph = json_object_get(json_object_get(l.ev[s].payload, "request"), "placeholders");
    json_array_append_new(json_object_get(ph, "body"), json_pack("[i,i,s]", 0, 18, "TOKEN"));
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    MH_T_ASSERT(json_array_size(json_object_get(report, "divergences")) == 1 ||
                json_array_size(json_object_get(report, "chain_breaks")) > 0);
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* Re-seals the log from event `from` on, as a log written that way would have been. */
static void reseal(struct tlog *l, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        MH_T_ASSERT_EQ(mh_engine_event_seal(&l->ev[i], l->ev[i].seq, i ? l->ev[i - 1].hash : NULL),
                       MH_OK);
}

MH_TEST(replay_accepts_requests_recorded_before_placeholders)
{
    /* A run recorded by the renderer before this one: url values unencoded, no placeholders. */
    struct mh_wf *wf = http_wf("{\"url\": \"https://h/orders/{{trigger.body.id}}\", \"headers\": "
                               "{\"Authorization\": \"Bearer {{secrets.TOKEN}}\"}}");
    struct tlog l = {0};
    json_t *req = first_request(wf, &l, "{\"id\": \"a b\"}");
    json_decref(req);
    struct mh_event rep;
    struct mh_engine_result r;
    report_response(&rep, "call", 1, 200, NULL, "ok");
    advance_at(wf, &l, T0 + 5, NULL, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    mh_engine_result_cleanup(&r);
    long s = tlog_find(&l, MH_EV_STEP_STARTED, "call");
    MH_T_ASSERT(s >= 0);
    json_t *old = json_object_get(l.ev[s].payload, "request");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(old, "url")), "https://h/orders/a%20b");
    json_object_del(old, "placeholders");
    json_object_set_new(old, "url", json_string("https://h/orders/a b"));
    reseal(&l, (size_t)s);
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "legacy log diverges: %s", jtext(report));
    json_decref(report);

    /* It is still checked: another url is a divergence, by either rendering. */
    json_object_set_new(old, "url", json_string("https://h/admin"));
    reseal(&l, (size_t)s);
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "chain_breaks")), 0);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "divergences")), 1);
    json_decref(report);

    /* The sender does not guess where such a request's secrets are. */
    json_object_set_new(old, "url", json_string("https://h/orders/a b"));
    json_t *values = json_pack("{s:s}", "TOKEN", TOKEN);
    struct mh_engine_wire w;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(old, values, 0, &w, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.kind, "invalid_request");
    json_decref(values);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* Where a definition uses its secrets (the secrets page's "used by"): every place an http_call
 * takes a template, and the signing secret; data and a draft that does not validate too. */
MH_TEST(secret_refs_name_every_place_a_node_uses_a_secret)
{
    json_t *def = json_loads(
        "{\"nodes\": ["
        " {\"id\": \"a\", \"type\": \"http_call\", \"config\": {"
        "  \"url\": \"{{secrets.BASE}}/orders/{{ trigger.body.id }}\","
        "  \"headers\": {\"Authorization\": \"Bearer {{ secrets.TOKEN }}\", \"X\": "
        "\"{{secrets.TOKEN}}\"},"
        "  \"query\": {\"k\": \"{{secrets.QKEY}}\"},"
        "  \"body\": \"{\\\"p\\\": \\\"{{secrets.PIN}}\\\"}\","
        "  \"sign\": {\"secret\": \"SIGNER\"}}},"
        " {\"id\": \"b\", \"type\": \"http_call\", \"config\": {\"url\": \"https://x.test/{{\","
        "  \"headers\": {\"A\": \"{{secrets.ONLY_B}}\"}, \"body\": {\"expression\": "
        "\"secrets.NOT_A_TEMPLATE\"}}},"
        " {\"id\": \"c\", \"type\": \"transform\", \"config\": {\"expression\": "
        "\"'{{secrets.T}}'\"}},"
        " {\"id\": \"d\", \"type\": \"http_call\", \"config\": {\"url\": \"https://x.test/\"}}"
        "], \"edges\": []}",
        0, NULL);
    MH_T_ASSERT(def != NULL);
    json_t *refs = mh_engine_secret_refs(def);
    char *s = json_dumps(refs, JSON_COMPACT | JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(
        s, "{\"a\":[\"BASE\",\"TOKEN\",\"QKEY\",\"PIN\",\"SIGNER\"],\"b\":[\"ONLY_B\"]}");
    free(s);
    json_decref(refs);
    json_decref(def);
    /* Not a definition at all: nothing, no crash. */
    json_t *junk = json_pack("{s:i}", "nodes", 3);
    refs = mh_engine_secret_refs(junk);
    MH_T_ASSERT_EQ(json_object_size(refs), 0);
    json_decref(refs);
    json_decref(junk);
}

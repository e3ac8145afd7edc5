/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of workflow validation and compilation, the node type registry, templates, and the
 * duration and timestamp parsers. The invalid definitions live in tests/data/engine/invalid.json,
 * each with the exact errors (path, code, and where it matters the offset) it must produce.
 */
#include "engine/engine_internal.h"
#include "test_engine_helpers.h"

/* Checks that `errors` holds exactly the `expect` list, in any order. */
static void check_errors(const char *name, json_t *errors, json_t *expect)
{
    char *got = json_dumps(errors, JSON_INDENT(1));
    if (json_array_size(errors) != json_array_size(expect))
        mh_t_fail(__FILE__, __LINE__, "%s: expected %zu errors, got %zu: %s", name,
                  json_array_size(expect), json_array_size(errors), got);
    size_t i, j;
    json_t *want, *e;
    json_array_foreach(expect, i, want)
    {
        bool found = false;
        json_array_foreach(errors, j, e)
        {
            const char *key;
            json_t *value;
            bool match = true;
            json_object_foreach(want, key, value)
            {
                if (!json_equal(json_object_get(e, key), value))
                    match = false;
            }
            if (match && json_is_string(json_object_get(e, "message")) &&
                json_string_length(json_object_get(e, "message")) > 0)
                found = true;
        }
        if (!found) {
            char *w = jtext(want);
            mh_t_fail(__FILE__, __LINE__, "%s: no error matches %s in %s", name, w, got);
        }
    }
    free(got);
}

MH_TEST(engine_invalid_definitions)
{
    json_t *cases = load_fixture("invalid.json");
    size_t i;
    json_t *c;
    MH_T_ASSERT(json_array_size(cases) >= 14);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *errors = NULL;
        struct mh_wf *wf = NULL;
        enum mh_err rc = mh_engine_wf_compile(json_object_get(c, "definition"), &wf, &errors);
        if (rc != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "%s: compile returned %d", name, rc);
        MH_T_ASSERT(wf == NULL);
        check_errors(name, errors, json_object_get(c, "expect"));
        json_decref(errors);
        /* validate agrees with compile. */
        MH_T_ASSERT_EQ(mh_engine_wf_validate(json_object_get(c, "definition"), &errors), MH_EINVAL);
        check_errors(name, errors, json_object_get(c, "expect"));
        json_decref(errors);
    }
    json_decref(cases);
}

MH_TEST(engine_cycle_message_names_the_cycle)
{
    json_t *cases = load_fixture("invalid.json");
    json_t *errors = NULL;
    MH_T_ASSERT_EQ(
        mh_engine_wf_validate(json_object_get(json_array_get(cases, 0), "definition"), &errors),
        MH_EINVAL);
    const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    MH_T_ASSERT(msg != NULL && strstr(msg, "b -> c -> b") != NULL);
    json_decref(errors);
    json_decref(cases);
}

MH_TEST(engine_valid_fixtures_compile)
{
    const char *names[] = {"linear.json",     "diamond.json", "parallel_http.json",
                           "http_retry.json", "delay.json",   "runtime_error.json"};
    for (size_t i = 0; i < MH_ARRAY_LEN(names); i++) {
        struct mh_wf *wf = compile_fixture(names[i]);
        json_t *errors = NULL;
        json_t *def = load_fixture(names[i]);
        MH_T_ASSERT_EQ(mh_engine_wf_validate(def, &errors), MH_OK);
        MH_T_ASSERT_EQ(json_array_size(errors), 0);
        json_decref(errors);
        MH_T_ASSERT_EQ(mh_engine_wf_node_count(wf), json_array_size(json_object_get(def, "nodes")));
        json_decref(def);
        mh_engine_wf_unref(wf);
    }
    struct mh_wf *wf = compile_fixture("linear.json");
    MH_T_ASSERT_STR_EQ(mh_engine_wf_node_id(wf, 1), "is_big");
    MH_T_ASSERT_STR_EQ(mh_engine_wf_node_type(wf, "is_big"), "branch");
    MH_T_ASSERT(mh_engine_wf_node_type(wf, "nope") == NULL);
    /* References are counted: two unrefs after one ref free it once (LSan checks the rest). */
    MH_T_ASSERT(mh_engine_wf_ref(wf) == wf);
    mh_engine_wf_unref(wf);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_bounds)
{
    json_t *nodes = json_array();
    for (int i = 0; i <= MH_ENGINE_MAX_NODES; i++) {
        char id[16];
        snprintf(id, sizeof(id), "n%d", i);
        json_array_append_new(nodes, json_pack("{s:s,s:s,s:{s:s}}", "id", id, "type", "transform",
                                               "config", "expression", "@"));
    }
    json_t *def = json_pack("{s:o,s:[]}", "nodes", nodes, "edges");
    json_t *errors = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_validate(def, &errors), MH_EINVAL);
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
                       "too_many_nodes");
    json_decref(errors);
    json_decref(def);

    /* 500 nodes in a chain are fine (and a long chain does not hurt the cycle search). */
    nodes = json_array();
    json_t *edges = json_array();
    for (int i = 0; i < MH_ENGINE_MAX_NODES; i++) {
        char id[16], prev[16];
        snprintf(id, sizeof(id), "n%d", i);
        snprintf(prev, sizeof(prev), "n%d", i - 1);
        json_array_append_new(nodes, json_pack("{s:s,s:s,s:{s:s}}", "id", id, "type", "transform",
                                               "config", "expression", "@"));
        if (i > 0)
            json_array_append_new(edges, json_pack("{s:s,s:s}", "from", prev, "to", id));
    }
    def = json_pack("{s:o,s:o}", "nodes", nodes, "edges", edges);
    MH_T_ASSERT_EQ(mh_engine_wf_validate(def, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);

    /* 2001 edges are too many. */
    edges = json_array();
    for (int i = 0; i <= MH_ENGINE_MAX_EDGES; i++)
        json_array_append_new(edges, json_pack("{s:s,s:s}", "from", "a", "to", "b"));
    def = json_pack("{s:[{s:s,s:s,s:{s:s}}],s:o}", "nodes", "id", "a", "type", "transform",
                    "config", "expression", "@", "edges", edges);
    MH_T_ASSERT_EQ(mh_engine_wf_validate(def, &errors), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
                       "too_many_edges");
    json_decref(errors);
    json_decref(def);
}

MH_TEST(engine_node_types_registry)
{
    json_t *types = mh_engine_node_types();
    const char *want[] = {"transform", "branch",  "delay",         "terminate",    "http_call",
                          "for_each",  "respond", "wait_callback", "call_workflow"};
    MH_T_ASSERT_EQ(json_array_size(types), MH_ARRAY_LEN(want));
    for (size_t i = 0; i < MH_ARRAY_LEN(want); i++) {
        json_t *t = json_array_get(types, i);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(t, "type")), want[i]);
        MH_T_ASSERT(json_string_length(json_object_get(t, "title")) > 0);
        json_t *schema = json_object_get(t, "config_schema");
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(schema, "$schema")),
                           "https://json-schema.org/draft/2020-12/schema");
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(schema, "type")), "object");
        MH_T_ASSERT(json_string_length(json_object_get(schema, "description")) > 0);
        json_t *same = mh_engine_node_type_schema(want[i]);
        MH_T_ASSERT(json_equal(same, schema));
        json_decref(same);
    }
    json_t *http = json_object_get(json_array_get(types, 4), "config_schema");
    json_t *timeout = json_object_get(json_object_get(http, "properties"), "timeout_ms");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(timeout, "default")), 30000);
    json_t *expr = json_object_get(
        json_object_get(json_object_get(json_array_get(types, 0), "config_schema"), "properties"),
        "expression");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(expr, "x-meshhook-syntax")), "jmespath");
    MH_T_ASSERT(mh_engine_node_type_schema("send_fax") == NULL);
    json_decref(types);
}

MH_TEST(engine_template_render)
{
    json_t *ctx = json_loads("{\"trigger\": {\"body\": {\"id\": 42, \"name\": \"Ada\", \"tags\": "
                             "[\"a\", \"b\"], \"none\": null, \"evil\": \"{{secrets.DB}}\"}}}",
                             0, NULL);
    char *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_template_render("https://x/{{ trigger.body.id }}/{{trigger.body.name}}"
                                             "?t={{ trigger.body.tags }}&n={{ trigger.body.none }}",
                                             ctx, &out, &info),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(out, "https://x/42/Ada?t=[\"a\",\"b\"]&n=");
    free(out);
    /* The same as a url: each value is percent-encoded for its place. */
    MH_T_ASSERT_EQ(
        mh_engine_url_template_render("https://x/{{ trigger.body.id }}/{{trigger.body.name}}"
                                      "?t={{ trigger.body.tags }}&n={{ trigger.body.none }}",
                                      ctx, &out, &info),
        MH_OK);
    MH_T_ASSERT_STR_EQ(out, "https://x/42/Ada?t=%5B%22a%22%2C%22b%22%5D&n=");
    free(out);

    /* Secrets stay literal, spacing included; braces inside an expression do not close it. */
    MH_T_ASSERT_EQ(mh_engine_template_render("Bearer {{ secrets.API_KEY }} {{ {a: trigger.body.id} "
                                             "}}{{secrets.X}}",
                                             ctx, &out, &info),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(out, "Bearer {{ secrets.API_KEY }} {\"a\":42}{{secrets.X}}");
    free(out);

    /* A value from the data that reads like a placeholder stays data: it is inserted as text,
     * and rendering records no placeholder for it (the sender resolves recorded ones only). */
    MH_T_ASSERT_EQ(mh_engine_template_render("x={{ trigger.body.evil }}", ctx, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "x={{secrets.DB}}");
    free(out);
    struct mh_tpl *t = NULL;
    MH_T_ASSERT_EQ(
        mh_engine__tpl_compile("{{secrets.A}}x={{ trigger.body.evil }}", false, &t, &info), MH_OK);
    json_t *names = json_array(), *spans = json_array();
    size_t len = 0;
    MH_T_ASSERT_EQ(mh_engine__tpl_render(t, ctx, false, names, spans, &out, &len, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "{{secrets.A}}x={{secrets.DB}}");
    MH_T_ASSERT_EQ(len, strlen(out));
    ASSERT_JSON_EQ(spans, "[[0, 13, \"A\"]]");
    ASSERT_JSON_EQ(names, "[\"A\"]");
    free(out);
    json_decref(names);
    json_decref(spans);
    mh_engine__tpl_destroy(t);

    /* Syntax errors carry the offset into the template. */
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_template_render("abc {{ trigger.", ctx, &out, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 4);
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_template_render("ab{{a..b}}", ctx, &out, &info), MH_EJMESPATH);
    MH_T_ASSERT_EQ(info.offset, 6);
    /* A runtime error is a JMESPath error. */
    MH_T_ASSERT_EQ(mh_engine_template_render("{{ abs(trigger.body.name) }}", ctx, &out, &info),
                   MH_EJMESPATH);
    /* No braces at all is plain text. */
    MH_T_ASSERT_EQ(mh_engine_template_render("plain } text {", ctx, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "plain } text {");
    free(out);
    json_decref(ctx);
}

MH_TEST(engine_durations_and_timestamps)
{
    struct {
        const char *s;
        int64_t ms;
    } good[] = {{"250ms", 250},     {"5s", 5000},       {"1.5s", 1500},  {"1h30m", 5400000},
                {"2d", 172800000},  {"PT5S", 5000},     {"PT0.5S", 500}, {"P1DT2H", 93600000},
                {"PT1M30S", 90000}, {"P1W", 604800000}, {"0s", 0},       {"1m1s1ms", 61001}};
    for (size_t i = 0; i < MH_ARRAY_LEN(good); i++) {
        int64_t ms = -1;
        if (!mh_engine__parse_duration(good[i].s, &ms))
            mh_t_fail(__FILE__, __LINE__, "duration %s rejected", good[i].s);
        MH_T_ASSERT_EQ(ms, good[i].ms);
    }
    const char *bad[] = {"",    "5",      "5 s",  "s",   "1s1h",  "P",   "PT",
                         "P1M", "PT1.5M", "400d", "P1Y", "1.5ms", "-5s", "5sx"};
    for (size_t i = 0; i < MH_ARRAY_LEN(bad); i++) {
        int64_t ms;
        if (mh_engine__parse_duration(bad[i], &ms))
            mh_t_fail(__FILE__, __LINE__, "duration \"%s\" accepted", bad[i]);
    }
    int64_t t;
    MH_T_ASSERT(mh_engine__parse_rfc3339("2023-11-14T22:13:20Z", &t));
    MH_T_ASSERT_EQ(t, T0);
    MH_T_ASSERT(mh_engine__parse_rfc3339("2023-11-14T23:13:20.123+01:00", &t));
    MH_T_ASSERT_EQ(t, T0 + 123);
    MH_T_ASSERT(mh_engine__parse_rfc3339("1970-01-01T00:00:00Z", &t));
    MH_T_ASSERT_EQ(t, 0);
    MH_T_ASSERT(mh_engine__parse_rfc3339("2024-02-29T00:00:00Z", &t));
    MH_T_ASSERT(!mh_engine__parse_rfc3339("2023-02-29T00:00:00Z", &t));
    MH_T_ASSERT(!mh_engine__parse_rfc3339("2023-11-14 22:13", &t));
    MH_T_ASSERT(!mh_engine__parse_rfc3339("2023-11-14T22:13:20", &t));
    char iso[40];
    mh_engine__format_rfc3339(T0 + 5, iso, sizeof(iso));
    MH_T_ASSERT_STR_EQ(iso, "2023-11-14T22:13:20.005Z");
    mh_engine__format_rfc3339(-1, iso, sizeof(iso));
    MH_T_ASSERT_STR_EQ(iso, "1969-12-31T23:59:59.999Z");
}

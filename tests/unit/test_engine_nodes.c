/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the node type table (src/engine/nodes.c, src/engine/nodes/<type>.c): every
 * registered type has every operation, the table and what GET /api/node-types serves (and the
 * editor's committed copy of it) agree, every type compiles a config its schema accepts and
 * releases it, and the operations the engine reaches through the table (dead letters, stand-ins,
 * secret references) answer per type.
 */
#include "engine/engine_internal.h"
#include "schema/schema.h"
#include "test_engine_helpers.h"

/* A config each type's schema accepts. A new type adds its line here. */
static const struct {
    const char *type;
    const char *config;
} samples[] = {
    {"transform", "{\"expression\": \"trigger.body\"}"},
    {"branch", "{\"condition\": \"trigger.body.ok\"}"},
    {"delay", "{\"duration\": \"5s\"}"},
    {"terminate", "{\"status\": \"failed\", \"output\": \"trigger\"}"},
    {"http_call", "{\"url\": \"https://example.com/{{ trigger.body.id }}\", \"headers\": "
                  "{\"authorization\": \"Bearer {{secrets.TOKEN}}\"}, \"body\": {\"expression\": "
                  "\"trigger.body\"}, \"sign\": {\"secret\": \"WHSEC\"}}"},
    {"for_each", "{\"items\": \"trigger.body.ids\", \"body\": {\"nodes\": [{\"id\": \"each\", "
                 "\"type\": \"transform\", \"config\": {\"expression\": \"item\"}}]}}"},
    {"respond", "{\"status\": 201, \"headers\": {\"x-id\": \"{{ trigger.body.id }}\"}, "
                "\"body\": \"trigger.body\"}"},
    {"wait_callback", "{\"timeout\": \"72h\"}"},
    {"call_workflow", "{\"workflow_id\": \"0190a0b0-0000-7000-8000-00000000000a\", \"version\": "
                      "2, \"input\": \"trigger.body\"}"},
};

static const char *sample_of(const char *type)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(samples); i++)
        if (strcmp(samples[i].type, type) == 0)
            return samples[i].config;
    return NULL;
}

MH_TEST(engine_node_table_complete)
{
    size_t n = mh_engine__node_type_count();
    MH_T_ASSERT(n >= 5);
    MH_T_ASSERT(n <= MH_ENGINE__MAX_NODE_TYPES);
    MH_T_ASSERT(mh_engine__node_type_at(n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const struct mh_node_type *t = mh_engine__node_type_at(i);
        MH_T_ASSERT(t != NULL);
        if (t->name == NULL || t->name[0] == '\0' || t->title == NULL || t->title[0] == '\0' ||
            t->description == NULL || t->description[0] == '\0' || t->schema == NULL)
            mh_t_fail(__FILE__, __LINE__,
                      "node type %zu lacks a name, title, description or "
                      "schema",
                      i);
        if (t->compile == NULL || t->release == NULL || t->start == NULL || t->resume == NULL ||
            t->pending == NULL || t->admit == NULL || t->eval == NULL || t->replay == NULL ||
            t->error_expr == NULL || t->check_stand_in == NULL || t->recorded_stand_in == NULL ||
            t->secret_refs == NULL || t->reads == NULL)
            mh_t_fail(__FILE__, __LINE__, "node type %s lacks an operation", t->name);
        MH_T_ASSERT(t->out == MH_NODE_OUT_PLAIN || t->out == MH_NODE_OUT_PORTS ||
                    t->out == MH_NODE_OUT_NONE);
        MH_T_ASSERT(mh_engine__node_type(t->name) == t);
        for (size_t j = 0; j < i; j++)
            MH_T_ASSERT(strcmp(mh_engine__node_type_at(j)->name, t->name) != 0);
        /* Its schema is a JSON Schema our validator compiles. */
        json_t *doc = json_loads(t->schema, 0, NULL);
        struct mh_schema *s = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        MH_T_ASSERT(doc != NULL);
        if (mh_schema_compile(doc, &s, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: schema does not compile: %s", t->name, info.message);
        mh_schema_destroy(s);
        json_decref(doc);
    }
    MH_T_ASSERT(mh_engine__node_type("send_fax") == NULL);
}

MH_TEST(engine_node_table_matches_api)
{
    json_t *types = mh_engine_node_types();
    MH_T_ASSERT_EQ(json_array_size(types), mh_engine__node_type_count());
    for (size_t i = 0; i < mh_engine__node_type_count(); i++) {
        const struct mh_node_type *t = mh_engine__node_type_at(i);
        json_t *api = json_array_get(types, i);
        json_t *schema = json_loads(t->schema, 0, NULL);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(api, "type")), t->name);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(api, "title")), t->title);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(api, "description")), t->description);
        MH_T_ASSERT(json_equal(json_object_get(api, "config_schema"), schema));
        MH_T_ASSERT_EQ(json_object_size(api), 4);
        json_decref(schema);
    }
    /* The editor's tests render forms from a committed copy of the answer: it must be this one. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/web/src/lib/graph/fixtures/node-types.json", mh_t_repo_dir());
    json_error_t jerr;
    json_t *fixture = json_load_file(path, 0, &jerr);
    if (fixture == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", path, jerr.text);
    if (!json_equal(json_object_get(fixture, "types"), types)) {
        char *got = json_dumps(types, JSON_INDENT(2));
        mh_t_fail(__FILE__, __LINE__,
                  "%s differs from GET /api/node-types; refresh it with:\n{\"types\": %s}", path,
                  got);
    }
    json_decref(fixture);
    json_decref(types);
}

MH_TEST(engine_node_table_compiles_each_type)
{
    for (size_t i = 0; i < mh_engine__node_type_count(); i++) {
        const struct mh_node_type *t = mh_engine__node_type_at(i);
        const char *cfg = sample_of(t->name);
        if (cfg == NULL)
            mh_t_fail(__FILE__, __LINE__, "no sample config for node type %s", t->name);
        /* One node of the type, as a whole workflow: the table compiles and releases it. */
        char def[2048];
        snprintf(def, sizeof(def),
                 "{\"nodes\": [{\"id\": \"n\", \"type\": \"%s\", \"config\": %s}]}", t->name, cfg);
        json_t *doc = json_loads(def, 0, NULL);
        struct mh_wf *wf = NULL;
        json_t *errors = NULL;
        MH_T_ASSERT(doc != NULL);
        if (mh_engine_wf_compile(doc, &wf, &errors) != MH_OK) {
            char *e = json_dumps(errors, 0);
            mh_t_fail(__FILE__, __LINE__, "%s: %s", t->name, e);
        }
        MH_T_ASSERT(wf->nodes[0].type == t);
        MH_T_ASSERT(wf->nodes[0].impl != NULL);
        MH_T_ASSERT_STR_EQ(mh_engine_wf_node_type(wf, "n"), t->name);
        MH_T_ASSERT_EQ(mh_engine_wf_node_is_dead_letter(wf, "n"), t->is_dead_letter);
        json_decref(errors);
        mh_engine_wf_unref(wf);
        json_decref(doc);
    }
}

MH_TEST(engine_node_table_per_type_answers)
{
    /* Only an http_call's failure goes to the dead letters; unknown nodes never do. */
    MH_T_ASSERT(mh_engine__node_type("http_call")->is_dead_letter);
    MH_T_ASSERT(!mh_engine__node_type("delay")->is_dead_letter);
    MH_T_ASSERT(!mh_engine__node_type("transform")->is_dead_letter);
    json_t *def = json_loads(
        "{\"nodes\": [{\"id\": \"a\", \"type\": \"transform\", \"config\": {\"expression\": "
        "\"trigger\"}}, {\"id\": \"h\", \"type\": \"http_call\", \"config\": {\"url\": "
        "\"{{secrets.BASE}}/x\"}}, {\"id\": \"d\", \"type\": \"delay\", \"config\": "
        "{\"duration_ms\": 5}}], \"edges\": [{\"from\": \"a\", \"to\": \"h\"}, {\"from\": \"h\", "
        "\"to\": \"d\"}]}",
        0, NULL);
    struct mh_wf *wf = NULL;
    json_t *errors = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    MH_T_ASSERT(mh_engine_wf_node_is_dead_letter(wf, "h"));
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, "a"));
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, "d"));
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, "nope"));
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, NULL));

    /* Stand-ins: the types that take one say what it is; the others name those that do. */
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *si = json_loads("{\"a\": {}}", 0, NULL);
    MH_T_ASSERT_EQ(mh_engine_preview_check(wf, si, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(
        info.message,
        "node 'a' is a transform: only delay, http_call, wait_callback and call_workflow nodes "
        "take a stand-in");
    MH_T_ASSERT_STR_EQ(info.path, "/a");
    json_decref(si);
    si = json_loads("{\"d\": {}, \"h\": {\"status\": 200, \"headers\": {\"x\": 1}}}", 0, NULL);
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_preview_check(wf, si, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.message, "'headers' must be an object of strings");
    MH_T_ASSERT_STR_EQ(info.path, "/h/headers");
    json_decref(si);
    si = json_loads("{\"d\": {\"x\": 1}}", 0, NULL);
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_preview_check(wf, si, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "/d");
    json_decref(si);
    si = json_loads("{\"d\": {}, \"h\": {\"status\": 503, \"body\": \"x\"}}", 0, NULL);
    MH_T_ASSERT_EQ(mh_engine_preview_check(wf, si, NULL), MH_OK);
    json_decref(si);

    /* Secret references are read by the http_call's own operation; other types name none. */
    json_t *refs = mh_engine_secret_refs(def);
    MH_T_ASSERT_EQ(json_object_size(refs), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(refs, "h"), 0)), "BASE");
    json_decref(refs);
    mh_engine_wf_unref(wf);
    json_decref(errors);
    json_decref(def);
}

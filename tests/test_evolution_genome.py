"""DEAP genomes of rules: lossless round trips, variation, size limits, determinism, validity."""

import ast
import collections
import pathlib
import random

import pytest
from deap import gp
from hypothesis import given, settings

import dsl
from discovery import config as config_lib
from discovery.evolution import genome as G
from discovery.evolution import validity
from discovery.evolution import variation as V
from dsl.rule import MAX_DEPTH, MAX_HYPERPARAMS, MAX_NODES, MAX_STATE, MAX_STATEMENTS, walk
from tests.rule_strategies import rules

LIBRARY = [dsl.library.get(n) for n in dsl.library.names()]
# Library rules with at least one statement and one constant: every mutation kind applies.
RICH = [r for r in LIBRARY if r.body and r.params]

MUTATIONS = {
    "insert": V.insert_statement, "delete": V.delete_statement, "modify": V.modify_statement,
    "subtree": V.mutate_subtree, "node": V.replace_node, "constant": V.perturb_constant,
}

# Same names as adam, different computations.
OTHER = dsl.parse("""
def other(b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * sign(g)
    v = max(v, g ** 2)
    mhat = m
    vhat = v
    return mhat * rsqrt(vhat + eps)
""")


def expressions(rule):
    return [a.value for a in rule.body] + [rule.result]


def subexpressions(rule):
    return {node for e in expressions(rule) for node in walk(e)}


def within_limits(rule):
    nodes = sum(1 for e in expressions(rule) for _ in walk(e))
    return (
        len(rule.body) + 1 <= MAX_STATEMENTS and nodes <= MAX_NODES and len(rule.state) <= MAX_STATE
        and len(rule.params) <= MAX_HYPERPARAMS
        and all(G.expr_to_tree(e).height + 1 <= MAX_DEPTH for e in expressions(rule))
    )


# ----------------------------------------------------------------------------- genome


@pytest.mark.parametrize("name", dsl.library.names())
def test_library_rules_round_trip(name):
    rule = dsl.library.get(name)
    genome = G.rule_to_genome(rule)
    assert len(genome) == len(rule.body) + 1
    assert all(isinstance(tree, gp.PrimitiveTree) for tree in genome)
    assert genome.targets == [a.target for a in rule.body]
    assert genome.params == list(rule.params)
    assert G.genome_to_rule(genome) == rule


@settings(max_examples=150)
@given(rules(max_statements=6))
def test_random_rules_round_trip(rule):
    assert G.genome_to_rule(G.rule_to_genome(rule)) == rule


def test_operator_names_cannot_be_variables():
    # The parser cannot read them back from text, so rules never hold them.
    with pytest.raises(dsl.DSLError, match="reserved"):
        dsl.Rule("r", (), (dsl.Assign("add", dsl.Name("g")),), dsl.Name("add"))
    with pytest.raises(dsl.DSLError, match="cannot be a hyper-parameter name"):
        dsl.Rule("r", (("where", 0.5),), (), dsl.Name("g"))


def test_random_trees_never_fail_and_respect_height():
    pset = G.primitive_set(("g", "p", "t"))
    rng = random.Random(0)
    for height in range(7):
        for readable in (("g", "t"), ()):
            for _ in range(30):
                tree = G.random_tree(rng, pset, readable, height)
                assert tree.height <= height
                names = {n.value for n in tree if G.is_name(n)}
                assert names <= set(readable)


# ----------------------------------------------------------------------------- variation


@pytest.mark.parametrize("kind", list(MUTATIONS))
def test_each_mutation_gives_a_valid_different_child(kind):
    mutation = MUTATIONS[kind]
    differ = 0
    for seed in range(60):
        parent = RICH[seed % len(RICH)]
        child, description = mutation(parent, random.Random(seed))
        assert isinstance(child, dsl.Rule) and dsl.parse(child.to_text()) == child
        assert within_limits(child)
        if child != parent:
            differ += 1
            assert description != "no-op"
    assert differ >= 58  # measured: 60 / 60 for every kind


def test_mutation_descriptions_say_what_was_done():
    adam = dsl.library.get("adam")
    _, text = V.perturb_constant(adam, random.Random(3))
    assert text.startswith("perturb ")
    _, text = V.delete_statement(adam, random.Random(3))
    assert text.startswith("delete stmt ")
    _, text = V.insert_statement(adam, random.Random(3))
    assert text.startswith("insert ")


def test_inapplicable_mutations_return_the_parent_as_no_op():
    sgd = dsl.library.get("sgd")  # no statement, no constant
    assert V.delete_statement(sgd, random.Random(0)) == (sgd, "no-op")
    assert V.perturb_constant(sgd, random.Random(0)) == (sgd, "no-op")


def test_constant_perturbation_keeps_decays_in_unit_interval():
    rule = dsl.parse("""
def r(b1=0.9, b2=0.999):
    m = b1 * m + 0.1 * g
    v = 0.99 * v + 0.01 * g * g
    return m * rsqrt(v + 0.5)
""")
    rng = random.Random(0)
    config = config_lib.VariationSettings(perturb_scale=2.0)
    for _ in range(300):
        rule, _ = V.perturb_constant(rule, rng, config)
        constants = [n.value for e in expressions(rule) for n in walk(e) if isinstance(n, dsl.Const)]
        assert all(0.0 < c < 1.0 for c in constants + [v for _, v in rule.params])
    steps = [V.perturb_value(0.999, rng, 0.5) for _ in range(2000)]
    assert all(0.0 < c < 1.0 for c in steps)
    assert min(steps) < 0.997 and max(steps) >= 0.9995  # 0.99x and 0.999x both reachable
    assert sorted(steps)[1000] == pytest.approx(0.999, abs=1e-4)
    assert all(V.perturb_value(-2.0, rng, 1.0) < 0 < V.perturb_value(3.0, rng, 1.0) for _ in range(100))


def test_statement_crossover_takes_whole_statements_from_both_parents():
    adam = dsl.library.get("adam")
    mine, theirs = set(expressions(adam)), set(expressions(OTHER)) - set(expressions(adam))
    mixed = 0
    for seed in range(50):
        child, description = V.crossover_statements(adam, OTHER, random.Random(seed))
        ours = set(expressions(child))
        mixed += bool(ours & mine) and bool(ours & theirs)
        assert description.startswith("crossover stmt") or description.startswith("crossover return")
    assert mixed == 50


def test_subtree_crossover_grafts_a_subtree_of_the_second_parent():
    adam = dsl.library.get("adam")
    theirs = subexpressions(OTHER) - subexpressions(adam)
    grafted = sum(
        bool(subexpressions(V.crossover_subtrees(adam, OTHER, random.Random(seed))[0]) & theirs)
        for seed in range(50)
    )
    assert grafted >= 20  # measured: 23 / 50; the rest graft a subtree adam also has (b1, g ** 2)


def test_crossover_brings_hyperparameters_it_reads_and_repairs_unknown_variables():
    plain = dsl.parse("def plain(b1=0.9):\n    m = b1 * m + g\n    return m\n")
    lion = dsl.library.get("lion")
    for seed in range(40):
        child, _ = V.crossover(plain, lion, random.Random(seed))
        assert child.name == "plain" and child.params[0] == ("b1", 0.9)
        declared = set(child.hyperparams)
        assert declared - {"b1"} <= child.names_read  # only what it reads is brought along
        assert declared <= {"b1", "b2", "weight_decay"}
        assert "u" not in child.names_read  # lion's variable does not exist in plain


def test_chained_variation_never_exceeds_limits():
    config = config_lib.VariationSettings(
        mutation_weights={"insert": 3, "subtree": 3, "node": 1, "constant": 1, "modify": 1, "delete": 1},
        max_height=5,
    )
    rng = random.Random(1)
    rule = dsl.library.get("adam")
    biggest = 0
    for step in range(500):
        if step % 5 == 0:
            rule, _ = V.crossover(rule, rng.choice(LIBRARY), rng, config)
        else:
            rule, _ = V.mutate(rule, rng, config)
        assert isinstance(rule, dsl.Rule) and within_limits(rule)
        biggest = max(biggest, sum(1 for e in expressions(rule) for _ in walk(e)))
    assert biggest >= MAX_NODES - 10  # the limit was actually pressed against


def test_variation_is_deterministic_given_the_rng():
    def run(disturb):
        rng = random.Random(7)
        rule, out = dsl.library.get("adam"), []
        for i in range(60):
            if disturb:
                random.seed(123 + i)
                random.random()
            if i % 4 == 0:
                rule, text = V.crossover(rule, LIBRARY[i % len(LIBRARY)], rng)
            elif i % 4 == 1:
                rule, text = validity.mutate_valid(rule, rng)
            else:
                rule, text = V.mutate(rule, rng)
            out.append((rule, text))
        out.append((validity.random_rule(rng), ""))
        return out

    first = run(disturb=False)
    assert first == run(disturb=False)
    assert first == run(disturb=True)
    assert len({r for r, _ in first}) > 40


def test_config_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="for the mutation kinds"):
        config_lib.VariationSettings(mutation_weights={"teleport": 1.0})
    with pytest.raises(ValueError, match="crossover_weights leaves no kind a positive weight"):
        config_lib.VariationSettings(crossover_weights={"statement": 0.0})
    with pytest.raises(ValueError, match="mutation_weights leaves no kind a positive weight"):
        config_lib.VariationSettings(mutation_weights=dict.fromkeys(config_lib.PRIMITIVE_WEIGHTS, 0.0))
    with pytest.raises(ValueError, match="block mutations .* need vocabulary = 'blocks'"):
        config_lib.load(**{"variation.mutation_weights": {"ema": 1.0}})


# ----------------------------------------------------------------------------- validity


@pytest.mark.parametrize("body, reason", [
    ("return 0 * g", "identically zero"),
    ("return log(-abs(g) - 1)", "NaN"),
    ("return t", "barely depends on the gradient"),
    ("return p * 2", "barely depends on the gradient"),
    ("return p * (g < 1.45)", "barely depends on the gradient"),  # weight decay gaming x* = 0
    ("return g * 1e9", "absurd scale"),
    ("u = m / m\n    m = m + g\n    return u * g", "NaN"),  # 0 / 0 at step 1
])
def test_check_rejects_hopeless_rules(body, reason):
    assert reason in validity.check(dsl.parse(f"def r():\n    {body}\n"))


@pytest.mark.parametrize("name", dsl.library.names())
def test_check_accepts_library_rules(name):
    assert validity.check(dsl.library.get(name)) is None


def test_mutate_valid_children_pass_check():
    rng = random.Random(0)
    noops = 0
    for i in range(60):
        parent = LIBRARY[i % len(LIBRARY)]
        child, description = validity.mutate_valid(parent, rng)
        noops += description == "no-op"
        assert validity.check(child) is None
        if description != "no-op":
            assert child != parent
    assert noops <= 5  # measured: 3 / 60 since check() also rejects gradient-starved rules


def test_mutate_valid_asks_whether_a_child_is_new_before_checking_it(monkeypatch):
    parent = dsl.library.get("adam")
    plain = validity.mutate_valid(parent, random.Random(3))
    assert validity.mutate_valid(parent, random.Random(3), new=lambda rule: True) == plain
    checked, rejected = [], collections.Counter()
    real = validity.rejection
    monkeypatch.setattr(validity, "rejection", lambda rule: checked.append(rule) or real(rule))
    child, description = validity.mutate_valid(parent, random.Random(3), max_tries=7, rejected=rejected,
                                               new=lambda rule: False)
    assert (child, description) == (parent, "no-op") and not checked
    assert rejected["known"] + rejected["no-op"] == 7 and rejected["known"] >= 1


def test_crossover_valid_children_pass_check():
    rng = random.Random(0)
    for i in range(30):
        child, _ = validity.crossover_valid(LIBRARY[i % len(LIBRARY)], rng.choice(LIBRARY), rng)
        assert validity.check(child) is None


def test_random_rules_are_valid_and_sized():
    rng = random.Random(5)
    for n in (0, 1, 3, 6):
        rule = validity.random_rule(rng, n, params=[("beta", 0.9)])
        assert len(rule.body) == n and rule.params == (("beta", 0.9),)
        assert validity.check(rule) is None and within_limits(rule)


def test_search_layer_never_compiles_or_evaluates_code():
    forbidden_calls = {"eval", "exec", "compile"}
    forbidden_attrs = {"from_string", "addADF"}
    for path in pathlib.Path(G.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_calls, path
            if isinstance(node, ast.Attribute):
                assert node.attr not in forbidden_attrs, path
                gp_compile = node.attr == "compile" and getattr(node.value, "id", None) == "gp"
                assert not gp_compile, path  # DEAP's Statistics.compile is fine; gp.compile is not
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(m.split(".")[0] in ("pickle", "dill", "cloudpickle") for m in modules)
                assert not any("creator" in m for m in modules), path

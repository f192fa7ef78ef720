"""The rules hassfest applies to a custom integration, enforced here (hassfest runs in CI on GitHub).

hassfest lives in the Home Assistant core repository only; these tests check the same things on
every run: manifest keys and order, version, translations, services, icons, CONFIG_SCHEMA.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
import pytest
import yaml

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components" / "ems"
ENTITY_PLATFORMS = {"sensor", "select", "switch", "number", "button", "binary_sensor"}
REQUIRED_MANIFEST_KEYS = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "requirements",
    "version",
}


def _json(name: str) -> dict[str, Any]:
    return json.loads((INTEGRATION / name).read_text(encoding="utf-8"))


def _flatten(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict):
            keys |= _flatten(value, f"{path}.")
    return keys


def _source_modules() -> list[Path]:
    return sorted(INTEGRATION.rglob("*.py"))


def _calls_with_translation_key() -> list[tuple[Path, ast.Call, str]]:
    """Every call in the integration that passes a literal translation_key."""
    found = []
    for path in _source_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "translation_key" and isinstance(keyword.value, ast.Constant):
                    found.append((path, node, str(keyword.value.value)))
    return found


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _entity_translation_keys() -> set[tuple[str, str, bool]]:
    """(platform, translation_key, has_device_class) for every entity the code describes."""
    keys: set[tuple[str, str, bool]] = set()
    for path, call, key in _calls_with_translation_key():
        platform = path.stem
        if platform in ENTITY_PLATFORMS and _call_name(call) not in {
            "HomeAssistantError",
            "ServiceValidationError",
        }:
            has_device_class = any(k.arg == "device_class" for k in call.keywords)
            keys.add((platform, key, has_device_class))
    for path in _source_modules():
        if path.stem not in ENTITY_PLATFORMS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            names = {
                target.id
                for node in cls.body
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in cls.body:
                if (
                    isinstance(node, ast.Assign)
                    and any(
                        isinstance(t, ast.Name) and t.id == "_attr_translation_key"
                        for t in node.targets
                    )
                    and isinstance(node.value, ast.Constant)
                ):
                    keys.add((path.stem, str(node.value.value), "_attr_device_class" in names))
    return keys


def test_manifest_keys_and_order() -> None:
    manifest = _json("manifest.json")
    assert REQUIRED_MANIFEST_KEYS <= manifest.keys()
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "ems"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_polling"
    assert manifest["integration_type"] in {"device", "hub", "service"}


def test_manifest_version_is_semver() -> None:
    version = AwesomeVersion(_json("manifest.json")["version"])
    assert version.strategy in {AwesomeVersionStrategy.SEMVER, AwesomeVersionStrategy.SIMPLEVER}


def test_manifest_requirements_are_ranges_not_pins() -> None:
    for requirement in _json("manifest.json")["requirements"]:
        assert "==" not in requirement, requirement
        assert re.match(r"^[A-Za-z0-9_.\-\[\]]+(>=|~=|<|>)", requirement), requirement


def test_hacs_json_matches_tested_version() -> None:
    hacs = json.loads((INTEGRATION.parent.parent / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"]
    from homeassistant.const import __version__ as ha_version

    # The oldest version the suite runs against in CI: the one it runs against now.
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)


def test_strings_identical_to_english() -> None:
    assert _json("strings.json") == _json("translations/en.json")


def test_dutch_has_every_english_key() -> None:
    english = _flatten(_json("translations/en.json"))
    dutch = _flatten(_json("translations/nl.json"))
    assert english - dutch == set(), "missing in nl.json"
    assert dutch - english == set(), "not in en.json"


def test_placeholders_match_between_languages() -> None:
    def walk(en: Any, nl: Any, path: str) -> None:
        if isinstance(en, dict):
            for key in en:
                walk(en[key], nl[key], f"{path}.{key}")
        else:
            assert set(re.findall(r"\{(\w+)\}", en)) == set(re.findall(r"\{(\w+)\}", nl)), path

    walk(_json("translations/en.json"), _json("translations/nl.json"), "")


def test_services_are_translated_and_have_icons() -> None:
    services_file = INTEGRATION / "services.yaml"
    if not services_file.exists():
        pytest.skip("no actions")
    services = yaml.safe_load(services_file.read_text(encoding="utf-8"))
    strings = _json("translations/en.json")
    icons = _json("icons.json")
    for service, spec in services.items():
        translated = strings["services"][service]
        assert translated["name"] and translated["description"], service
        for field in (spec or {}).get("fields", {}):
            assert translated["fields"][field]["name"], f"{service}.{field}"
            assert translated["fields"][field]["description"], f"{service}.{field}"
        assert "service" in icons["services"][service], service
    assert set(strings.get("services", {})) == set(services)


def test_selector_translation_keys_exist() -> None:
    strings = _json("translations/en.json")
    files = [INTEGRATION / "services.yaml"]
    for path in files:
        if path.exists():
            for key in re.findall(r"translation_key:\s*(\w+)", path.read_text(encoding="utf-8")):
                assert key in strings["selector"], key


def test_every_code_translation_key_is_translated() -> None:
    strings = _json("translations/en.json")
    dutch = _json("translations/nl.json")
    for platform, key, _ in _entity_translation_keys():
        assert key in strings["entity"][platform], f"entity.{platform}.{key}"
        assert key in dutch["entity"][platform], f"nl entity.{platform}.{key}"
    for path, call, key in _calls_with_translation_key():
        has_domain = any(k.arg == "translation_domain" for k in call.keywords)
        if has_domain:
            assert key in strings["exceptions"], f"exceptions.{key} ({path.name})"
        elif _call_name(call) == "async_create_issue":
            assert key in strings["issues"], f"issues.{key} ({path.name})"


def test_icons_cover_entities_without_device_class() -> None:
    icons = _json("icons.json")
    for platform, key, has_device_class in _entity_translation_keys():
        if not has_device_class:
            assert key in icons.get("entity", {}).get(platform, {}), f"icon for {platform}.{key}"
    # Icons only for things that exist (keys may reach a description through a helper function).
    strings = _json("translations/en.json")
    for platform, entries in icons.get("entity", {}).items():
        for key in entries:
            assert key in strings["entity"][platform], (
                f"icons.json entity.{platform}.{key} is unused"
            )


def test_config_schema_defined_with_async_setup() -> None:
    module = importlib.import_module("custom_components.ems")
    if hasattr(module, "async_setup"):
        assert hasattr(module, "CONFIG_SCHEMA")


def test_platform_modules_set_parallel_updates() -> None:
    for path in _source_modules():
        if path.stem in ENTITY_PLATFORMS:
            assert "PARALLEL_UPDATES" in path.read_text(encoding="utf-8"), path.name


def test_brand_images() -> None:
    from PIL import Image

    brand = INTEGRATION / "brand"
    with Image.open(brand / "icon.png") as icon:
        assert icon.size == (256, 256)
    with Image.open(brand / "icon@2x.png") as icon:
        assert icon.size == (512, 512)
    with Image.open(brand / "logo.png") as logo, Image.open(brand / "logo@2x.png") as logo2x:
        assert logo2x.size == (logo.size[0] * 2, logo.size[1] * 2)


def test_quality_scale_lists_every_rule() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))[
        "rules"
    ]
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in {"done", "todo", "exempt"}, name
        if status == "exempt":
            assert rule["comment"], name
    components = Path(importlib.import_module("homeassistant.components").__file__).parent
    core = components / "homewizard"  # a platinum integration lists every rule
    core_rules = yaml.safe_load((core / "quality_scale.yaml").read_text(encoding="utf-8"))["rules"]
    assert set(rules) == set(core_rules), "every rule of the scale, bronze to platinum"

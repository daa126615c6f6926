// ESLint for the page scripts in static/js (`make lint` runs it).
// One style: every page script is an ES module (strict and scoped by itself,
// no wrappers), callbacks are arrow functions, nothing is reassigned by accident.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/", "node_modules/", ".venv/", "var/", "test-output/"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      curly: ["error", "multi-line"],
      eqeqeq: "error",
      "func-style": ["error", "declaration", { allowArrowFunctions: true }],
      "no-implicit-coercion": "error",
      "no-var": "error",
      "object-shorthand": "error",
      "prefer-arrow-callback": "error",
      "prefer-const": "error",
      "prefer-template": "error",
      strict: ["error", "never"],
    },
  },
  {
    // Classic workers: they load SparkMD5 with importScripts.
    files: ["static/js/submit/md5-worker.js", "static/js/submit/part-md5-worker.js"],
    languageOptions: {
      sourceType: "script",
      globals: { ...globals.worker, SparkMD5: "readonly" },
    },
    rules: { strict: ["error", "global"] },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];

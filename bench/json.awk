# bench/json.awk — writes bench/run.sh's results.tsv (with targets.awk's T rows) as JSON:
# {"info":{...}, "metrics":[...], "dedup":[...], "sweep":[...], "targets":[...], "notes":[...]}.
# Byte counts are integers, seconds and rates are numbers, the rest strings.

function q(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, " ", s)
	return "\"" s "\""
}
function num(s) {
	return s ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ ? s : "null"
}
function add(kind, text) {
	out[kind] = out[kind] (out[kind] == "" ? "\n    " : ",\n    ") text
}

$1 == "I" {
	add("info", q($2) ": " ($2 == "fs" ? q($3) : num($3)))
}
$1 == "M" {
	add("metrics", "{\"name\": " q($2) ", \"value\": " num($3) ", \"unit\": " q($4) \
		", \"from\": " q($5) "}")
}
$1 == "D" || $1 == "S" {
	add($1, "{\"corpus\": " q($2) ", " ($1 == "D" ? "\"tool\": " q($3) : \
		"\"avg_chunk\": " num($3)) ", \"logical_bytes\": " num($4) ", \"stored_bytes\": " \
		num($5) ", \"index_bytes\": " num($6) ", \"seconds\": " num($7) ", \"chunks\": " \
		num($8) ", \"index_live_bytes\": " num($10) ", \"settings\": " q($9) "}")
}
$1 == "T" {
	add("targets", "{\"name\": " q($2) ", \"value\": " num($3) ", \"op\": " q($4) \
		", \"limit\": " num($5) ", \"unit\": " q($6) ", \"status\": " q($7) "}")
}
$1 == "N" {
	add("notes", q($2))
}

END {
	printf "{\n  \"info\": {%s\n  },\n", out["info"]
	printf "  \"metrics\": [%s\n  ],\n", out["metrics"]
	printf "  \"dedup\": [%s\n  ],\n", out["D"]
	printf "  \"sweep\": [%s\n  ],\n", out["S"]
	printf "  \"targets\": [%s\n  ],\n", out["targets"]
	printf "  \"notes\": [%s\n  ]\n}\n", out["notes"]
}

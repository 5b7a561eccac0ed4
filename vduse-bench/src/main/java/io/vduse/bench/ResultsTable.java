package io.vduse.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns JMH's CSV results ({@code -rf csv}, with {@code -prof gc}) into the markdown table of
 * {@code RESULTS.md}: one row per benchmark and parameter set, with ops/s, its error, bytes
 * allocated per op by the whole JVM and, where measured, by the device's own threads.
 *
 * <pre>java -cp benchmarks.jar io.vduse.bench.ResultsTable results.csv RESULTS.md "preamble"</pre>
 */
public final class ResultsTable {

    private static final String PREFIX = "io.vduse.bench.";

    /** One benchmark and parameter set. */
    static final class Row {
        final String benchmark;
        final String params;
        double score = Double.NaN;
        double error = Double.NaN;
        String unit = "";
        double bytesPerOp = Double.NaN;
        double deviceAllocRate = Double.NaN;

        Row(String benchmark, String params) {
            this.benchmark = benchmark;
            this.params = params;
        }
    }

    private ResultsTable() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: ResultsTable results.csv RESULTS.md [preamble]");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        String preamble = args.length > 2 ? args[2] : "";
        Files.writeString(Path.of(args[1]), preamble + markdown(rows(lines)), StandardCharsets.UTF_8);
    }

    /** The rows of a JMH CSV file, in the order of the file. */
    static List<Row> rows(List<String> csv) {
        Map<String, Row> rows = new LinkedHashMap<>();
        List<String> header = parse(csv.get(0));
        for (String line : csv.subList(1, csv.size())) {
            if (line.isBlank()) {
                continue;
            }
            List<String> f = parse(line);
            String name = f.get(0);
            String secondary = null;
            int colon = name.indexOf(':');
            if (colon >= 0) {
                secondary = name.substring(colon + 1);
                name = name.substring(0, colon);
            }
            if (name.startsWith(PREFIX)) {
                name = name.substring(PREFIX.length());
            }
            StringBuilder params = new StringBuilder();
            for (int i = 7; i < f.size() && i < header.size(); i++) {
                if (!f.get(i).isEmpty()) {
                    if (!params.isEmpty()) {
                        params.append(", ");
                    }
                    params.append(header.get(i).replace("Param: ", "")).append('=').append(f.get(i));
                }
            }
            String key = name + " " + params;
            Row row = rows.computeIfAbsent(key, k -> new Row(k.substring(0, k.indexOf(' ')), k.substring(k.indexOf(' ') + 1)));
            double score = number(f.get(4));
            if (secondary == null) {
                row.score = score;
                row.error = number(f.get(5));
                row.unit = f.get(6);
            } else if (secondary.equals("gc.alloc.rate.norm")) {
                row.bytesPerOp = score;
            } else if (secondary.equals("deviceAlloc")) {
                row.deviceAllocRate = score;
            }
        }
        return new ArrayList<>(rows.values());
    }

    /** The markdown table of {@code rows}. */
    static String markdown(List<Row> rows) {
        StringBuilder out = new StringBuilder();
        out.append("| Benchmark | Parameters | ops/s | ± (99.9%) | B/op (all threads) | B/op (device threads) |\n");
        out.append("|---|---|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            String device = Double.isNaN(r.deviceAllocRate) || !(r.score > 0) ? ""
                    : format(r.deviceAllocRate / r.score, 3);
            out.append("| ").append(r.benchmark)
                    .append(" | ").append(r.params)
                    .append(" | ").append(format(r.score, 0))
                    .append(" | ").append(format(r.error, 0))
                    .append(" | ").append(format(r.bytesPerOp, 3))
                    .append(" | ").append(device)
                    .append(" |\n");
        }
        return out.toString();
    }

    private static String format(double value, int decimals) {
        if (Double.isNaN(value)) {
            return "";
        }
        return String.format(Locale.ROOT, "%,." + decimals + "f", value);
    }

    private static double number(String s) {
        if (s.isEmpty() || s.equals("NaN")) {
            return Double.NaN;
        }
        return Double.parseDouble(s.replace(',', '.'));
    }

    /** The fields of one CSV line: comma-separated, optionally double-quoted with "" for a quote. */
    static List<String> parse(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }
}

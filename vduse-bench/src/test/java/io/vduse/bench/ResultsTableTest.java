package io.vduse.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ResultsTableTest {

    private static final List<String> CSV = List.of(
            "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\",\"Param: entries\",\"Param: layout\"",
            "\"io.vduse.bench.IotlbBenchmark.addressSpace\",\"thrpt\",1,3,310756793.735,19810299.907,\"ops/s\",256,",
            "\"io.vduse.bench.IotlbBenchmark.addressSpace:gc.alloc.rate\",\"thrpt\",1,3,0.01,NaN,\"MB/sec\",256,",
            "\"io.vduse.bench.IotlbBenchmark.addressSpace:gc.alloc.rate.norm\",\"thrpt\",1,3,0.00001,NaN,\"B/op\",256,",
            "\"io.vduse.bench.SimulatedBlockBenchmark.read4k\",\"thrpt\",1,3,10000.0,500.0,\"ops/s\",,split",
            "\"io.vduse.bench.SimulatedBlockBenchmark.read4k:deviceAlloc\",\"thrpt\",1,3,640.0,1.0,\"ops/s\",,split",
            "\"io.vduse.bench.SimulatedBlockBenchmark.read4k:gc.alloc.rate.norm\",\"thrpt\",1,3,6313.4,221.3,\"B/op\",,split");

    @Test
    void oneRowPerBenchmarkAndParametersWithSecondaryResultsFolded() {
        String table = ResultsTable.markdown(ResultsTable.rows(CSV));
        assertThat(table.lines()).containsExactly(
                "| Benchmark | Parameters | ops/s | ± (99.9%) | B/op (all threads) | B/op (device threads) |",
                "|---|---|---:|---:|---:|---:|",
                "| IotlbBenchmark.addressSpace | entries=256 | 310,756,794 | 19,810,300 | 0.000 |  |",
                "| SimulatedBlockBenchmark.read4k | layout=split | 10,000 | 500 | 6,313.400 | 0.064 |");
    }

    @Test
    void quotedFieldsMayHoldCommasAndQuotes() {
        assertThat(ResultsTable.parse("\"a,b\",1,\"say \"\"hi\"\"\",")).containsExactly("a,b", "1", "say \"hi\"", "");
    }
}

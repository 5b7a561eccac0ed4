package io.vduse.iova;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class IotlbTreeTest {

    private static final IotlbTree.Splitter<Long> MOVE_OFFSET = (offset, skipped) -> offset + skipped;

    @Test
    void holdsTheWholeUnsignedSpace() {
        IotlbTree<String> tree = new IotlbTree<>();
        tree.insert(0, Long.MAX_VALUE, "low");
        tree.insert(Long.MIN_VALUE, -1L, "high");

        assertThat(tree.find(0)).map(IotlbTree.Entry::value).contains("low");
        assertThat(tree.find(Long.MAX_VALUE)).map(IotlbTree.Entry::value).contains("low");
        assertThat(tree.find(Long.MIN_VALUE)).map(IotlbTree.Entry::value).contains("high");
        assertThat(tree.find(-1L)).map(IotlbTree.Entry::value).contains("high");
        assertThat(tree.entries()).extracting(IotlbTree.Entry::value).containsExactly("low", "high");
    }

    @Test
    void rejectsOverlapNamingBothRanges() {
        IotlbTree<String> tree = new IotlbTree<>();
        tree.insert(0x1000, 0x1fff, "a");

        assertThatThrownBy(() -> tree.insert(0x1fff, 0x2fff, "b"))
                .isInstanceOf(IotlbOverlapException.class)
                .hasMessage("IOVA range [0x1fff, 0x2fff] overlaps the mapped range [0x1000, 0x1fff]");
        tree.insert(0x2000, 0x2fff, "b");
        assertThat(tree.size()).isEqualTo(2);
    }

    @Test
    void firstReportsTheLowestOverlappingEntryLikeGetFd() {
        IotlbTree<String> tree = new IotlbTree<>();
        tree.insert(0x3000, 0x3fff, "c");
        tree.insert(0x1000, 0x1fff, "a");

        assertThat(tree.first(0x0, 0xfff)).isEmpty();
        assertThat(tree.first(0x0, 0x1000)).map(IotlbTree.Entry::value).contains("a");
        assertThat(tree.first(0x1800, 0x3800)).map(IotlbTree.Entry::value).contains("a");
        assertThat(tree.first(0x2000, -1L)).map(IotlbTree.Entry::value).contains("c");
        assertThat(tree.overlapping(0, -1L)).extracting(IotlbTree.Entry::value).containsExactly("a", "c");
    }

    @Test
    void removeOverlappingDropsWholeEntriesAsTheKernelDoes() {
        IotlbTree<String> tree = new IotlbTree<>();
        tree.insert(0x1000, 0x1fff, "a");
        tree.insert(0x2000, 0x2fff, "b");
        tree.insert(0x3000, 0x3fff, "c");

        List<IotlbTree.Entry<String>> removed = tree.removeOverlapping(0x1fff, 0x2000);

        assertThat(removed).extracting(IotlbTree.Entry::value).containsExactly("a", "b");
        assertThat(tree.entries()).extracting(IotlbTree.Entry::value).containsExactly("c");
    }

    @Test
    void removeRangeSplitsTheEntryItCutsAndMovesTheTailsOffset() {
        IotlbTree<Long> tree = new IotlbTree<>();
        tree.insert(0x1000, 0x4fff, 0x10_0000L);

        List<IotlbTree.Entry<Long>> removed = tree.removeRange(0x2000, 0x2fff, MOVE_OFFSET);

        assertThat(removed).containsExactly(new IotlbTree.Entry<>(0x2000, 0x2fff, 0x10_1000L));
        assertThat(tree.entries()).containsExactly(
                new IotlbTree.Entry<>(0x1000, 0x1fff, 0x10_0000L),
                new IotlbTree.Entry<>(0x3000, 0x4fff, 0x10_2000L));
    }

    @Test
    void removeRangeAtTheTopOfTheSpaceDoesNotWrap() {
        IotlbTree<Long> tree = new IotlbTree<>();
        tree.insert(-0x2000L, -1L, 0L);

        tree.removeRange(-0x1000L, -1L, MOVE_OFFSET);

        assertThat(tree.entries()).containsExactly(new IotlbTree.Entry<>(-0x2000L, -0x1001L, 0L));
        assertThat(tree.find(-1L)).isEmpty();
        assertThat(tree.find(0)).isEmpty();
    }
}

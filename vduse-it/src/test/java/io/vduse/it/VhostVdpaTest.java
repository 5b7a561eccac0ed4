package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vduse.it.guest.GuestVhostBlk;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An SDK block device bound to {@code vhost_vdpa} instead of {@code virtio_vdpa}, driven by the
 * test's own vhost-vdpa client ({@code io.vduse.it.vhost}): the only way to make the kernel send
 * what a VMM causes, {@code VDUSE_SET_VQ_READY} from a ring enable, {@code VDUSE_SUSPEND} and
 * {@code VDUSE_SET_VQ_GROUP_ASID}, and to map memory into several address spaces. One guest boot
 * runs {@link GuestVhostBlk} with every scenario of the kernel under test (the device and the
 * client in one process); each test checks one scenario's {@code FACT} and {@code RESULT} lines.
 *
 * <p>On Linux 6.12 only the first scenario runs: its VDUSE has API version 0, no VDUSE features
 * and one address space; the others are skipped there with that reason.
 */
@Order(4) // where it starts: see vduse.it.parallel in the pom
class VhostVdpaTest {

    private static final String KERNEL = GuestVm.requestedKernel();
    private static final boolean LINUX_73 = KERNEL.equals("7.3");
    private static final String NOT_ON_612 = "Linux " + KERNEL + "'s VDUSE has no VDUSE_F_QUEUE_READY, no "
            + "VDUSE_F_SUSPEND and no API v1 groups and address spaces (Linux 7.3 has them): this scenario runs "
            + "in the linux-7.3 execution (-Dvduse.it.kernel=7.3)";

    private static GuestVm.Result result;
    private static final Map<String, String> FACTS = new LinkedHashMap<>();
    private static final Map<String, String> RESULTS = new LinkedHashMap<>();

    /** Boots the guest for the first test only, so that a skip is reported per test, with its reason. */
    @BeforeEach
    void runTheScenariosOnce() {
        GuestVm vm = GuestVm.acquire();
        synchronized (VhostVdpaTest.class) {
            if (result == null) {
                List<String> scenarios = new ArrayList<>(List.of("basic"));
                if (LINUX_73) {
                    scenarios.addAll(List.of("ready", "suspend", "asid"));
                }
                result = vm.runJava(GuestVhostBlk.class, scenarios.toArray(String[]::new));
                for (String line : result.lines()) {
                    if (line.startsWith("FACT ")) {
                        int eq = line.indexOf('=');
                        FACTS.put(line.substring(5, eq), line.substring(eq + 1));
                    } else if (line.startsWith("RESULT ")) {
                        String[] words = line.split(" ", 3);
                        RESULTS.put(words[1], line.substring(("RESULT " + words[1] + " ").length()));
                    }
                }
                System.out.printf("GuestVhostBlk ran %s in %s (%s, Linux %s)%n", scenarios, result.elapsed(),
                        result.where(), KERNEL);
            }
        }
        assertThat(result.exitStatus()).as("the guest run failed:%n%s", result.describe()).isZero();
        assertThat(result.lines()).as(result.describe()).contains("VHOST_DONE");
    }

    private static String fact(String key) {
        assertThat(FACTS).as("facts of the guest run:%n%s", result.describe()).containsKey(key);
        return FACTS.get(key);
    }

    private static long number(String key) {
        return Long.parseLong(fact(key));
    }

    /** The lines of the guest's output that mention {@code word} (the SDK's log of a failed answer). */
    private static String complaints(String word) {
        return String.join("\n", result.lines().stream().filter(l -> l.contains(word)).toList());
    }

    private static void passed(String scenario) {
        assertThat(RESULTS).as(result.describe()).containsKey(scenario);
        assertThat(RESULTS.get(scenario)).as("scenario %s:%n%s", scenario, result.describe()).isEqualTo("PASS");
    }

    /**
     * Proves that the SDK serves a vhost-vdpa user on both kernels: the device binds to
     * {@code vhost_vdpa}, answers its queries (device id, config space, features), the client's
     * memfd mapped by {@code VHOST_IOTLB_UPDATE} at an IOVA of its choosing is what the device
     * reads and writes, and over two thousand 4 KiB writes, reads and flushes on a split ring come
     * back right: every byte read is the last one written to that block, the device's RAM equals
     * the client's model, and both sides count the same completions.
     */
    @Test
    void aVhostVdpaClientWritesAndReadsBackEveryByte() {
        passed("basic");
        assertThat(fact("basic.bound_driver")).isEqualTo("vhost_vdpa");
        assertThat(number("basic.device_id")).isEqualTo(2);
        assertThat(number("basic.config_capacity")).isEqualTo(GuestVhostBlk.DISK_BYTES / 512);
        assertThat(fact("basic.device_negotiated")).isEqualTo(fact("basic.driver_features"));
        assertThat(number("basic.client_completions")).isGreaterThanOrEqualTo(2000)
                .isEqualTo(number("basic.device_completed"));
        assertThat(number("basic.bytes_verified")).isGreaterThanOrEqualTo(1L << 20);
        assertThat(fact("basic.device.api_version")).isEqualTo(LINUX_73 ? "1" : "0");
    }

    /**
     * Proves QUEUE_READY end to end on 7.3: enabling the rings reaches the device as one
     * {@code SET_VQ_READY} per queue (VDUSE features 0x3); disabling one ring stops exactly that
     * queue while the other goes on, and {@code GET_VRING_BASE} then answers the device's exact
     * position (= used index in ring memory = completions the client saw), and the disabled queue
     * completes nothing when kicked. The kernel refuses a new base at DRIVER_OK (EINVAL,
     * drivers/vhost/vdpa.c), so re-enabling must resume where the queue stopped, with every byte
     * intact.
     *
     * <p>Fails with the SDK of main at a15503d: on {@code SET_VQ_READY(0, 1)} the device restarts
     * the queue from {@code VDUSE_VQ_GET_INFO}'s state, which is still the base set before
     * DRIVER_OK (0), refuses it (BAD_STATE: "last_avail_idx 0 is ... ahead of used idx") and
     * answers FAILED, and the kernel then marks the whole VDUSE device broken (every later message
     * EIO, every device ioctl EPERM). A queue parked by the driver should resume from its parked
     * state.
     */
    @Test
    void disablingARingStopsThatQueueAndReEnablingResumesIt() {
        assumeTrue(LINUX_73, NOT_ON_612);
        assertThat(number("ready.set_vq_ready_messages")).isGreaterThanOrEqualTo(2);
        assertThat(fact("ready.vduse_features")).isEqualTo("0x3");
        assertThat(number("ready.disable_messages")).isEqualTo(1);
        assertThat(fact("ready.q0_running_after_disable")).isEqualTo("false");
        assertThat(fact("ready.q1_running_after_disable")).isEqualTo("true");
        long base = number("ready.q0_get_vring_base");
        assertThat(base).isEqualTo(number("ready.q0_used_idx_memory"))
                .isEqualTo(number("ready.q0_client_consumed"))
                .isEqualTo(number("ready.q0_device_completed"));
        assertThat(number("ready.q0_used_idx_while_disabled")).isEqualTo(base);
        assertThat(fact("ready.q0_set_vring_base_at_driver_ok")).isEqualTo("EINVAL(22)");
        assertThat(fact("ready.q0_running_after_enable"))
                .as("queue 0 runs again after SET_VRING_ENABLE 1; the device logged:%n%s", complaints("SetVqReady"))
                .isEqualTo("true");
        passed("ready");
    }

    /**
     * Proves SUSPEND on 7.3 while both rings are kept full by client threads: one
     * {@code VDUSE_SUSPEND} reaches the device, which then reports {@code suspended()}; nothing
     * completes afterwards, though the client keeps kicking; and for each queue
     * {@code GET_VRING_BASE} (the requests the device took) equals the used index in ring memory
     * and the completions the client saw, so no request was taken and left unfinished. A reset
     * clears the suspension and the device comes up again with the data written before intact.
     */
    @Test
    void suspendUnderLoadStopsEveryQueueAtAnExactPosition() {
        assumeTrue(LINUX_73, NOT_ON_612);
        passed("suspend");
        assertThat(number("suspend.suspend_messages")).isEqualTo(1);
        assertThat(fact("suspend.device_suspended")).isEqualTo("true");
        for (int q = 0; q < 2; q++) {
            String p = "suspend.q" + q + ".";
            long used = number(p + "used_at_suspend");
            assertThat(number(p + "used_later")).as("completions after SUSPEND returned").isEqualTo(used);
            assertThat(number(p + "get_vring_base")).isEqualTo(used);
            assertThat(number(p + "client_consumed")).isEqualTo(used);
            assertThat(number(p + "client_completions")).isEqualTo(number(p + "device_completed"))
                    .isGreaterThanOrEqualTo(300);
            assertThat(fact(p + "queue_running")).isEqualTo("false");
            assertThat(number(p + "bytes_verified")).isPositive();
        }
        assertThat(fact("suspend.device_suspended_after_reset")).isEqualTo("false");
        assertThat(fact("suspend.after_reset_ok")).isEqualTo("true");
    }

    /**
     * Proves virtqueue groups and address spaces on 7.3: a device with queue 1 in group 1 and two
     * address spaces gets the same client memory mapped in both, at IOVAs that exist in only one
     * of them, so queue 1 works only while it translates through address space 1. The kernel
     * refuses {@code SET_GROUP_ASID} at DRIVER_OK (EBUSY, drivers/vhost/vdpa.c) without asking the
     * device; between reset and DRIVER_OK (as QEMU does) it reaches the device, whose
     * {@code queueAddressSpace(1)} becomes 1, and traffic on both queues is verified byte for byte.
     * Then address space 1 is invalidated and re-mapped to another mapping of the same pages in
     * one IOTLB batch under traffic: one {@code UPDATE_IOTLB} reaches the device, traffic goes on
     * verified, and no queue breaks.
     */
    @Test
    void aGroupMovesToItsOwnAddressSpaceAndSurvivesARemapUnderTraffic() {
        assumeTrue(LINUX_73, NOT_ON_612);
        passed("asid");
        assertThat(number("asid.group_num")).isEqualTo(2);
        assertThat(number("asid.as_num")).isEqualTo(2);
        assertThat(number("asid.vring_group.q0")).isZero();
        assertThat(number("asid.vring_group.q1")).isEqualTo(1);
        assertThat(number("asid.q1_asid_before")).isZero();
        assertThat(fact("asid.set_group_asid_at_driver_ok")).isEqualTo("EBUSY(16)");
        assertThat(number("asid.set_group_asid_messages_at_driver_ok")).isZero();
        assertThat(number("asid.q1_asid_after_refused_switch")).isZero();
        assertThat(number("asid.set_group_asid_messages_before_driver_ok")).isEqualTo(1);
        assertThat(number("asid.q1_asid_after_switch")).isEqualTo(1);
        assertThat(number("asid.q0_asid_after_switch")).isZero();
        assertThat(number("asid.update_iotlb_messages_for_remap")).isEqualTo(1);
        assertThat(number("asid.q1.bytes_verified")).isPositive();
        assertThat(fact("asid.healthy")).isEqualTo("true");
        assertThat(fact("asid.status")).doesNotContain("NEEDS_RESET");
    }
}

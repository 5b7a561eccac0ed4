package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.it.guest.KernelFacts;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real kernel's VDUSE, asked once by {@link KernelFacts} (one guest boot for all of these),
 * against the uapi of {@code vduse-api}: the ioctl numbers and struct layouts must be the ones
 * the kernel decodes, and the kernel must refuse what the simulated kernel refuses, with the
 * same errno.
 *
 * <p>Runs once per kernel series ({@value GuestVm#KERNEL}, one Surefire execution each) and pins
 * each series' own answers: where 6.12 and 7.3 differ, both are written down side by side.
 */
@Order(3) // where it starts: see vduse.it.parallel in the pom
class KernelFactsTest {

    /** The series this run asks; {@link GuestVm} boots (or natively requires) exactly that one. */
    private static final String KERNEL = GuestVm.requestedKernel();

    private static GuestVm.Result result;
    private static final Map<String, String> FACTS = new LinkedHashMap<>();

    /**
     * Boots the guest for the first test only. Per test rather than {@code @BeforeAll} so that a
     * skip is reported per test, with its reason (a class-level skip shows as "Tests run: 0").
     */
    @BeforeEach
    void askTheKernelOnce() {
        GuestVm vm = GuestVm.acquire();
        synchronized (KernelFactsTest.class) {
            if (result == null) {
                result = vm.runJava(KernelFacts.class);
                for (String line : result.lines()) {
                    if (line.startsWith("FACT ")) {
                        int eq = line.indexOf('=');
                        FACTS.put(line.substring(5, eq), line.substring(eq + 1));
                    }
                }
                System.out.printf("KernelFacts ran in %s (%s, Linux %s), %d facts%n",
                        result.elapsed(), result.where(), KERNEL, FACTS.size());
            }
        }
        // 124: killed at the timeout, 125: the guest never ran the probe. Nothing else to check.
        assertThat(result.exitStatus()).as("the guest run failed:%n%s", result.describe()).isNotIn(124, 125);
    }

    /** The answer pinned for the series under test. */
    private static String on(String linux612, String linux73) {
        return switch (KERNEL) {
            case "6.12" -> linux612;
            case "7.3" -> linux73;
            default -> throw new IllegalStateException("no answers recorded for Linux " + KERNEL);
        };
    }

    private static String fact(String key) {
        assertThat(FACTS).as("facts reported by the kernel probe:%n%s", result.describe()).containsKey(key);
        return FACTS.get(key);
    }

    @Test
    void probeRanToTheEnd() {
        assertThat(result.exitStatus()).as(result.describe()).isZero();
        assertThat(result.lines()).as(result.describe()).contains("FACTS_DONE");
        assertThat(FACTS).doesNotContainKey("probe.aborted");
    }

    @Test
    void theGuestRanTheKernelAskedFor() {
        assertThat(fact("kernel")).startsWith(KERNEL + ".");
    }

    @Test
    void controlDeviceAnswersItsApiVersion() {
        assertThat(fact("control.open")).isEqualTo("ok");
        // 6.12 knows only API version 0; 7.3 answers 1 to a fd that set nothing (and from then on
        // that fd is at 1). A wrong GET_API_VERSION number would be refused instead.
        assertThat(fact("get_api_version")).isEqualTo(on("0", "1"));
        assertThat(fact("set_api_version.0")).isEqualTo("ok");
    }

    @Test
    void askingTheVersionSettlesItOn73() {
        // The SDK's trap on 7.3: GET_API_VERSION then a CREATE_DEV laid out for API 0 (ngroups =
        // nas = 0) is refused, because the GET made the fd's version 1. Without the GET, or after
        // SET_API_VERSION 0, the same struct is accepted.
        assertThat(fact("create.after_get_api_version")).startsWith(on("ok", "EINVAL(22)"));
        assertThat(fact("create.without_set_api_version")).startsWith("ok");
    }

    @Test
    void api1NeedsAtLeastOneGroupAndAddressSpace() {
        if (KERNEL.equals("6.12")) {
            assertThat(fact("api1.create.ngroups_1_nas_1")).isEqualTo("not asked: SET_API_VERSION 1 EINVAL(22)");
            return;
        }
        assertThat(fact("api1.create.ngroups_0_nas_0")).isEqualTo("EINVAL(22)");
        assertThat(fact("api1.create.ngroups_1_nas_1")).startsWith("ok").contains("vduse-it-v1b").endsWith("destroy: ok)");
    }

    @Test
    void theControlFdOffersQueueReadyAndSuspendOn73() {
        // VDUSE_F_QUEUE_READY (bit 0) and VDUSE_F_SUSPEND (bit 1); 6.12 does not know the ioctl
        // and answers it like any unknown number.
        assertThat(fact("control.get_features")).isEqualTo(on("EINVAL(22)", "0x3"));
        assertThat(fact("control.set_features.0x3")).isEqualTo(on("EINVAL(22)", "ok"));
        assertThat(fact("control.set_features.0x4")).isEqualTo("EINVAL(22)");
    }

    @Test
    void aRequestNumberWithAWrongSizeIsRefused() {
        // The kernel matches the whole number, size included, so a layout that drifts from the
        // kernel's struct changes the number and is refused; VDUSE answers unknown numbers with
        // EINVAL (not ENOTTY).
        assertThat(fact("get_api_version.wrong_size_request")).isEqualTo("EINVAL(22)");
        assertThat(fact("ioctl.unknown_nr")).isEqualTo("EINVAL(22)");
    }

    @Test
    void aBlockDeviceIsCreatedSetUpListedAndDestroyed() {
        assertThat(fact("create.blk")).isEqualTo("ok");
        assertThat(fact("devnode.after_create")).isEqualTo("present");
        assertThat(fact("dev.open")).isEqualTo("ok");
        assertThat(fact("vq_setup.q0_256")).isEqualTo("ok");
        assertThat(fact("vdpa.mgmtdev")).contains("vduse");
        assertThat(fact("destroy.blk")).isEqualTo("ok");
        assertThat(fact("devnode.after_destroy")).isEqualTo("absent");
    }

    @Test
    void accessPlatformIsMandatory() {
        assertThat(fact("create.no_access_platform")).doesNotStartWith("ok");
    }

    @Test
    void configWceIsRefusedForBlock() {
        assertThat(fact("create.blk_config_wce")).doesNotStartWith("ok");
    }

    @Test
    void aDuplicateNameIsEexist() {
        assertThat(fact("create.duplicate_name")).isEqualTo("EEXIST(17)");
    }

    @Test
    void theDeviceOpensExclusively() {
        assertThat(fact("dev.open.second")).isEqualTo("EBUSY(16)");
    }

    @Test
    void aSlashInTheNameIsAcceptedAndTheNodeShowsABang() {
        // device_create() turns '/' into '!' in the node name; DESTROY_DEV takes the name as given.
        assertThat(fact("create.name_with_slash")).startsWith("ok").contains("vduse-it-a!b").contains("destroy: ok");
    }

    /**
     * {@code VDUSE_IOTLB_REG_UMEM} / {@code DEREG_UMEM} ({@code UmemFacts}): the same on both
     * series, device API 0 on 6.12 and 1 on 7.3. The kernel takes the memory only once the bounce
     * region exists, only whole, once, within RLIMIT_MEMLOCK; copies the pages in use in at
     * registration and back at deregistration; faults the file's bounce range afterwards; keeps the
     * registration across a reset and drops it when the device file is released.
     */
    @Test
    void userBounceMemoryIsTakenWholeOnceTheBounceRegionExistsAndCopiedBothWays() {
        assertThat(fact("umem.device")).isEqualTo(on("api 0", "api 1"));
        assertThat(fact("umem.attach")).isEqualTo("ok");
        assertThat(fact("umem.get_info.at_0")).isEqualTo("0x0-0x3ffffff cap 0x1");
        assertThat(fact("umem.rlimit_memlock")).as("the guest's default").isEqualTo(Long.toString(8L << 20));
        assertThat(fact("umem.read_held")).isEqualTo("true");
        assertThat(fact("umem.vmpin_after_reg")).isEqualTo("65536 kB");
        assertThat(fact("umem.reg.copies_page_in_use")).isEqualTo("yes");
        // Only the held read's three pages in use are copied (header, data, status), not every
        // page an earlier request (the partition scan) left behind. The kernel copies a page in
        // use whole: the header and data pages are non-zero, and the status page (S_OK is 0) is
        // non-zero only when an earlier request left bytes in it, so 2 or 3, never more.
        assertThat(fact("umem.reg.nonzero_pages")).isIn("2", "3");
        assertThat(fact("umem.get_info.after_reg")).isEqualTo("cap 0x1");
        assertThat(fact("umem.vmpin_after_dereg")).isEqualTo("0 kB");
        assertThat(fact("umem.file_page.after_dereg")).isEqualTo("0x6f");
        assertThat(fact("umem.held_read_returns")).isEqualTo("what was written while registered");
        assertThat(fact("umem.vmpin_after_vdpa_del")).isEqualTo("65536 kB");
        assertThat(fact("umem.vmpin_after_release")).isEqualTo("0 kB");
    }

    /**
     * Everything the kernels were seen to answer, per series: 6.12's column is the table the
     * simulated kernel copies. {@code ok} means accepted (a device made by accident is destroyed
     * again by the probe). The device facts were asked with API version 0 set on both kernels;
     * 7.3 then differs in three places: it takes API version 1, admits virtio-fs devices, and
     * refuses a vq_align below the used ring's alignment (4), which 6.12 let through as 0.
     */
    @ParameterizedTest(name = "{0} -> 6.12: {1}, 7.3: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            # key                           | Linux 6.12 | Linux 7.3
            set_api_version.1                 | EINVAL(22) | ok
            set_api_version.2                 | EINVAL(22) | EINVAL(22)
            create.without_set_api_version    | ok         | ok
            destroy.while_open                | EBUSY(16)  | EBUSY(16)
            destroy.missing                   | EINVAL(22) | EINVAL(22)
            dev.get_features                  | 0x0        | 0x0
            vq_setup.q1_out_of_range          | EINVAL(22) | EINVAL(22)
            vq_setup.q0_size_0                | ok         | ok
            vq_setup.q0_size_100              | ok         | ok
            vq_setup.q0_reserved1_nonzero     | EINVAL(22) | EINVAL(22)
            vq_setup.q0_again_256             | ok         | ok
            vq_get_info.q1_out_of_range       | EINVAL(22) | EINVAL(22)
            create.no_access_platform         | EINVAL(22) | EINVAL(22)
            create.no_version_1               | ok         | ok
            create.blk_config_wce             | EINVAL(22) | EINVAL(22)
            create.device_id_99               | EINVAL(22) | EINVAL(22)
            create.device_id_fs               | EINVAL(22) | ok
            create.device_id_console          | EINVAL(22) | EINVAL(22)
            create.vq_align_8192              | EINVAL(22) | EINVAL(22)
            create.vq_align_4096              | ok         | ok
            create.vq_align_0                 | ok         | EINVAL(22)
            create.vq_num_65536               | EINVAL(22) | EINVAL(22)
            create.vq_num_0                   | ok         | ok
            create.config_size_4096           | ok         | ok
            create.config_size_0              | ok         | ok
            create.config_size_4097           | EINVAL(22) | EINVAL(22)
            create.reserved_nonzero           | EINVAL(22) | EINVAL(22)
            create.empty_name                 | EINVAL(22) | EINVAL(22)
            create.v0_with_ngroups_nas        | EINVAL(22) | EINVAL(22)
            set_config.capacity               | ok         | ok
            set_config.last_byte              | ok         | ok
            set_config.past_end               | EINVAL(22) | EINVAL(22)
            set_config.length_0               | EINVAL(22) | EINVAL(22)
            set_config.offset_at_end_length_0 | EINVAL(22) | EINVAL(22)
            set_config.offset_overflow        | EINVAL(22) | EINVAL(22)
            inject_config_irq.before_driver   | EINVAL(22) | EINVAL(22)
            vq_inject_irq.q0_before_driver    | EINVAL(22) | EINVAL(22)
            vq_inject_irq.q1_out_of_range     | EINVAL(22) | EINVAL(22)
            vq_setup_kickfd.q0_deassign       | ok         | ok
            vq_setup_kickfd.q0_bad_fd         | EBADF(9)   | EBADF(9)
            vq_setup_kickfd.q1_out_of_range   | EINVAL(22) | EINVAL(22)
            iotlb_get_fd.unmapped             | EINVAL(22) | EINVAL(22)
            iotlb_get_info.at_0               | EINVAL(22) | EINVAL(22)
            sysfs.msg_timeout                 | 30         | 30
            sysfs.bounce_size                 | 67108864   | 67108864
            umem.reg.before_attach            | EINVAL(22) | EINVAL(22)
            umem.dereg.before_attach          | ENOENT(2)  | ENOENT(2)
            umem.reg.size_minus_page          | EINVAL(22) | EINVAL(22)
            umem.reg.iova_page                | EINVAL(22) | EINVAL(22)
            umem.reg.uaddr_unaligned          | EINVAL(22) | EINVAL(22)
            umem.reg.reserved_nonzero         | EINVAL(22) | EINVAL(22)
            umem.reg.asid_1                   | EINVAL(22) | EINVAL(22)
            umem.reg.past_memlock             | ENOMEM(12) | ENOMEM(12)
            umem.setrlimit                    | ok         | ok
            umem.reg                          | ok         | ok
            umem.reg.again                    | EEXIST(17) | EEXIST(17)
            umem.file_page.write_from_after_reg | EFAULT(14) | EFAULT(14)
            umem.dereg.size_minus_page        | EINVAL(22) | EINVAL(22)
            umem.dereg.iova_page              | EINVAL(22) | EINVAL(22)
            umem.dereg                        | ok         | ok
            umem.dereg.again                  | ENOENT(2)  | ENOENT(2)
            umem.reg.second                   | ok         | ok
            umem.reg.after_vdpa_del           | EINVAL(22) | EINVAL(22)
            """)
    void theKernelAnswersAsRecorded(String key, String linux612, String linux73) {
        String expected = on(linux612, linux73);
        String actual = fact(key);
        if (expected.equals("ok")) {
            assertThat(actual).as(key).startsWith("ok");
        } else {
            assertThat(actual).as(key).isEqualTo(expected);
        }
    }
}

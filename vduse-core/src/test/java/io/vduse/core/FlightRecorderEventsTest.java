package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device's whole life recorded with the JDK Flight Recorder to a file and read back: created,
 * negotiated, serving, an IOTLB update, a queue broken by a bad ring, a reset, a take-over by a
 * new device object (as by a new process) and its destruction. Each {@code io.vduse.*} event is
 * checked against what the device itself counted.
 */
class FlightRecorderEventsTest {

    private static final String NAME = "jfr-life";
    private static final int SECTORS = 2048;
    private static final long FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_MQ)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX);
    private static final String[] EVENTS = {"io.vduse.DeviceCreated", "io.vduse.DeviceReconnected",
        "io.vduse.DeviceDestroyed", "io.vduse.DeviceDetached", "io.vduse.StatusChange", "io.vduse.ControlMessage",
        "io.vduse.QueueBroken", "io.vduse.IotlbUpdate", "io.vduse.IotlbMap"};

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @TempDir
    Path temp;

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice start(String name, boolean reconnect) throws VduseException {
        return toClose.add(VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(FEATURES)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                .handlers(index -> new RamBlockHandler(disk, name)).inflightLog(temp.resolve("inflight"))
                .reconnect(reconnect).start());
    }

    private static Completion await(CompletableFuture<Completion> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void aDevicesWholeLifeIsRecorded() throws Exception {
        Path file = temp.resolve("life.jfr");
        VduseDevice first;
        VduseDevice second;
        long completed = 0;
        long setStatus;
        long updates;
        long resumedFeatures;
        try (Recording recording = new Recording()) {
            for (String event : EVENTS) {
                recording.enable(event);
            }
            // Every request, not only the slow ones: then each must be there.
            recording.enable("io.vduse.SlowRequest").withThreshold(Duration.ZERO);
            recording.start();

            first = start(NAME, false);
            SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, NAME,
                    SimulatedDriver.Options.defaults().withQueueSize(16)));
            BlockClient blk = new BlockClient(driver);
            byte[] data = new byte[4096];
            for (int i = 0; i < 10; i++) {
                assertThat(BlockClient.status(await(blk.write(i % 2, i * 8L, data)))).isEqualTo(VirtioBlk.S_OK);
            }
            driver.updateIotlb(0, -1L);
            for (int i = 0; i < 10; i++) {
                Completion read = await(blk.read(i % 2, i * 8L, 4096));
                assertThat(read.usedLength()).isEqualTo(4097);
            }
            assertThat(driver.sendUnknownMessage(77)).isEqualTo(Vduse.REQ_RESULT_FAILED);
            driver.corruptAvailIndex(0);
            awaitTrue(() -> first.worker(0).brokenReason() != null);
            driver.reset(); // queue 0 serves again after it
            for (int q = 0; q < 2; q++) {
                completed += first.completed(q);
            }
            setStatus = first.controlMessages(Vduse.REQ_SET_STATUS);
            updates = first.controlMessages(Vduse.REQ_UPDATE_IOTLB);

            first.detach();
            second = start(NAME, true);
            resumedFeatures = second.negotiatedFeatures();
            for (int i = 0; i < 4; i++) {
                assertThat(BlockClient.status(await(blk.write(i % 2, 100 + i * 8L, data)))).isEqualTo(VirtioBlk.S_OK);
            }
            driver.close();
            for (int q = 0; q < 2; q++) {
                completed += second.completed(q);
            }
            setStatus += second.controlMessages(Vduse.REQ_SET_STATUS);
            updates += second.controlMessages(Vduse.REQ_UPDATE_IOTLB);
            second.close();
            recording.stop();
            recording.dump(file);
        }
        assertThat(Files.size(file)).isPositive();
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.hasField("device") && NAME.equals(e.getString("device")))
                .sorted(java.util.Comparator.comparing(RecordedEvent::getStartTime))
                .toList();

        RecordedEvent created = only(events, "io.vduse.DeviceCreated");
        assertThat(created.getInt("queues")).isEqualTo(2);
        assertThat(created.getInt("queueSize")).isEqualTo(64);
        assertThat(created.getInt("deviceId")).isEqualTo(VirtioDeviceId.BLOCK);
        assertThat(created.getLong("apiVersion")).isEqualTo(Vduse.API_VERSION_1);
        assertThat(created.getLong("features")).isEqualTo(first.offeredFeatures());
        assertThat(created.getString("kernel")).isEqualTo(kernel.description());

        // The driver's bring-up (a reset first, as Linux's), in order, after the creation; later the reset.
        List<RecordedEvent> statuses = named(events, "io.vduse.StatusChange");
        assertThat(statuses.getFirst().getStartTime()).isAfterOrEqualTo(created.getStartTime());
        assertThat(statuses.stream().limit(5).map(e -> e.getInt("newStatus")).toList()).containsExactly(
                0, VirtioStatus.ACKNOWLEDGE, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER,
                VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK,
                VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK);
        assertThat(statuses.get(0).getInt("oldStatus")).isZero();
        assertThat(statuses.get(4).getInt("oldStatus")).isEqualTo(statuses.get(3).getInt("newStatus"));
        assertThat(statuses.get(4).getString("status")).isEqualTo("ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
        assertThat(statuses.subList(5, statuses.size())).anySatisfy(e -> {
            assertThat(e.getInt("newStatus")).isZero();
            assertThat(e.getString("status")).isEqualTo("RESET");
        });
        assertThat(statuses).hasSize((int) setStatus);

        // Every control message, with its result and how long its answer took.
        List<RecordedEvent> messages = named(events, "io.vduse.ControlMessage");
        assertThat(messages.stream().filter(e -> e.getString("type").equals("SET_STATUS"))).hasSize((int) setStatus)
                .allSatisfy(e -> assertThat(e.getString("result")).isEqualTo("OK"));
        assertThat(messages.stream().filter(e -> e.getString("type").equals("UPDATE_IOTLB"))).hasSize((int) updates);
        assertThat(messages).allSatisfy(e -> {
            assertThat(e.getDuration()).isPositive().isLessThan(Duration.ofSeconds(10));
            assertThat(e.getInt("typeCode")).isEqualTo(typeCode(e.getString("type")));
        });
        RecordedEvent unknown = messages.stream().filter(e -> e.getString("type").equals("UNKNOWN")).findFirst()
                .orElseThrow();
        assertThat(unknown.getInt("typeCode")).isEqualTo(77);
        assertThat(unknown.getString("result")).isEqualTo("FAILED");
        assertThat(unknown.getInt("errno")).isZero();

        // The update of the whole IOVA space retired what the first requests had mapped.
        RecordedEvent update = named(events, "io.vduse.IotlbUpdate").stream()
                .filter(e -> e.getLong("start") == 0 && e.getLong("last") == -1L).findFirst().orElseThrow();
        assertThat(update.getInt("asid")).isZero();
        assertThat(update.getInt("mappingsRetired")).isPositive();
        List<RecordedEvent> maps = named(events, "io.vduse.IotlbMap");
        assertThat(maps).anySatisfy(e -> assertThat(e.getStartTime()).isAfter(update.getStartTime()));
        assertThat(maps).allSatisfy(e -> {
            assertThat(e.getString("perm")).isIn("RO", "WO", "RW");
            assertThat(e.getLong("size")).isEqualTo(e.getLong("last") - e.getLong("start") + 1);
        });

        RecordedEvent broken = only(events, "io.vduse.QueueBroken");
        assertThat(broken.getInt("queue")).isZero();
        assertThat(broken.getString("reason")).isEqualTo("AVAIL_INDEX_TOO_FAR");

        RecordedEvent detached = only(events, "io.vduse.DeviceDetached");
        assertThat(detached.getString("reason")).isEqualTo("detach()");
        RecordedEvent reconnected = only(events, "io.vduse.DeviceReconnected");
        assertThat(reconnected.getStartTime()).isAfterOrEqualTo(detached.getStartTime());
        assertThat(reconnected.getInt("queuesResumed")).isEqualTo(2);
        assertThat(reconnected.getLong("negotiatedFeatures")).isEqualTo(resumedFeatures).isNotZero();
        assertThat(only(events, "io.vduse.DeviceDestroyed").getStartTime()).isAfter(reconnected.getStartTime());

        // With a threshold of 0 each completed request is one event, a 4 KiB read with 4097 bytes used.
        List<RecordedEvent> requests = named(events, "io.vduse.SlowRequest");
        assertThat(requests).hasSize((int) completed);
        assertThat(requests.stream().filter(e -> e.getLong("usedLength") == 4097)).hasSize(10)
                .allSatisfy(e -> assertThat(e.getLong("writable")).isEqualTo(4097));
        assertThat(requests).allSatisfy(e -> assertThat(e.getInt("queue")).isBetween(0, 1));
    }

    @Test
    void requestsAreNotRecordedUnlessTheEventIsEnabledOrSlow() throws Exception {
        Path file = temp.resolve("default.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("io.vduse.ControlMessage");
            // Enabled, with a threshold no request of a RAM disk reaches.
            recording.enable("io.vduse.SlowRequest").withThreshold(Duration.ofSeconds(5));
            recording.start();
            VduseDevice device = start("jfr-quiet", false);
            SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "jfr-quiet",
                    SimulatedDriver.Options.defaults().withQueueSize(16)));
            BlockClient blk = new BlockClient(driver);
            for (int i = 0; i < 20; i++) {
                assertThat(BlockClient.status(await(blk.write(0, i * 8L, new byte[512])))).isEqualTo(VirtioBlk.S_OK);
            }
            assertThat(device.completed(0)).isEqualTo(20);
            driver.close();
            device.close();
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.hasField("device") && "jfr-quiet".equals(e.getString("device"))).toList();
        assertThat(named(events, "io.vduse.ControlMessage")).isNotEmpty();
        assertThat(named(events, "io.vduse.SlowRequest")).isEmpty();
    }

    @Test
    void theRequestEventIsOffByDefaultWithATenMillisecondThreshold() {
        jdk.jfr.EventType slow = jdk.jfr.FlightRecorder.getFlightRecorder().getEventTypes().stream()
                .filter(t -> t.getName().equals("io.vduse.SlowRequest")).findFirst()
                .orElseGet(() -> jdk.jfr.EventType.getEventType(io.vduse.core.internal.events.SlowRequest.class));
        assertThat(slow.getSettingDescriptors()).anySatisfy(s -> {
            assertThat(s.getName()).isEqualTo("enabled");
            assertThat(s.getDefaultValue()).isEqualTo("false");
        }).anySatisfy(s -> {
            assertThat(s.getName()).isEqualTo("threshold");
            assertThat(s.getDefaultValue()).isEqualTo("10 ms");
        });
    }

    private static int typeCode(String type) {
        return switch (type) {
            case "GET_VQ_STATE" -> Vduse.REQ_GET_VQ_STATE;
            case "SET_STATUS" -> Vduse.REQ_SET_STATUS;
            case "UPDATE_IOTLB" -> Vduse.REQ_UPDATE_IOTLB;
            case "SET_VQ_GROUP_ASID" -> Vduse.REQ_SET_VQ_GROUP_ASID;
            case "SET_VQ_READY" -> Vduse.REQ_SET_VQ_READY;
            case "SUSPEND" -> Vduse.REQ_SUSPEND;
            default -> 77;
        };
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
    }

    private static RecordedEvent only(List<RecordedEvent> events, String name) {
        List<RecordedEvent> found = named(events, name);
        assertThat(found).as(name).hasSize(1);
        return found.getFirst();
    }

    private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(condition.getAsBoolean()).isTrue();
    }
}

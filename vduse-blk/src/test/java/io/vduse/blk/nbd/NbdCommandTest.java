package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The hand-offs of a command's answer between its sender, the reader and the timeout. */
class NbdCommandTest {

    private final List<Integer> answers = new ArrayList<>();

    private NbdCommand write() {
        return new NbdCommand(Nbd.CMD_WRITE, 0, 0, 512, null, (command, error) -> answers.add(error));
    }

    @Test
    void aReplyWhileTheSenderHoldsTheCommandIsAnsweredByTheSenderAsItLetsGo() {
        NbdCommand command = write();
        assertThat(command.claim()).isTrue();
        command.answer(Nbd.EIO);
        assertThat(answers).isEmpty(); // the sender is still reading the driver's memory
        assertThat(command.busy()).isTrue();
        assertThat(command.finishWaiting(NbdCommand.TIMED_OUT)).isFalse(); // nor may a timeout hand it back
        command.releaseSent();
        assertThat(answers).containsExactly(Nbd.EIO);
        assertThat(command.done()).isTrue();
    }

    @Test
    void aReplyAfterTheSenderLetGoIsAnsweredAtOnceAndOnlyOnce() {
        NbdCommand command = write();
        assertThat(command.claim()).isTrue();
        command.releaseSent();
        assertThat(answers).isEmpty();
        command.answer(0);
        assertThat(answers).containsExactly(0);
        command.answer(Nbd.EIO);
        assertThat(command.finishWaiting(NbdCommand.TIMED_OUT)).isFalse();
        assertThat(answers).containsExactly(0);
    }

    @Test
    void aLateReplyToATimedOutCommandAnswersNothing() {
        NbdCommand command = write();
        assertThat(command.finishWaiting(NbdCommand.TIMED_OUT)).isTrue();
        assertThat(command.claim()).isFalse();
        command.answer(0);
        assertThat(answers).containsExactly(NbdCommand.TIMED_OUT);
    }
}

// What a call put to the person (questions: "human"), as part of its result.
import { z } from "zod";

export type AskOutcome = "answered" | "declined" | "no_answer" | "not_asked";

/** One question this call put (or could not put) to the person. */
export interface PersonQuestion {
  interrupt_id: string;
  question: string;
  outcome: AskOutcome;
  /** The person's answer (outcome answered). */
  answer?: string;
  /** Why a question is still pending (no_answer, not_asked). */
  note?: string;
}

export const personQuestionSchema = z
  .object({
    interrupt_id: z.string(),
    question: z.string(),
    outcome: z.enum(["answered", "declined", "no_answer", "not_asked"]),
    answer: z.string().optional(),
    note: z.string().optional(),
  })
  .describe(
    "A question put to the person through the host (questions: human): answered or declined by the person, or still pending",
  );

/** The text lines for the questions a call put (or could not put) to the person. */
export function renderAsked(asked: readonly PersonQuestion[]): string[] {
  return asked.map((a) => {
    const q = `${a.interrupt_id} ${JSON.stringify(a.question)}`;
    switch (a.outcome) {
      case "answered":
        return `question ${q} answered by the person: ${JSON.stringify(a.answer ?? "")}`;
      case "declined":
        return `question ${q} declined by the person`;
      case "no_answer":
        return `question ${q} still pending: ${a.note ?? "the person gave no answer"}`;
      case "not_asked":
        return `question ${q} could not be put to the person: ${a.note ?? "answer it with resolve_interrupt"}`;
    }
  });
}

/** Output fields of the calls that wait on a run. */
export const askedOutputShape = {
  questions_to_person: z
    .array(personQuestionSchema)
    .optional()
    .describe("Questions this call put to the person (questions: human), with their outcome"),
};

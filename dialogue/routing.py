"""Which unit answers a question: (entity, aspect) looked up in the knowledge's units.

A question names an entity (a drug or a drug class, found by the lexicon with its brand
names and typos) and asks one aspect of it (what it is, how it is given, side effects...,
found by the aspect classifier). The unit is looked up by that pair, falling back from the
aspect to the one it falls back to (evidence -> where it fits) and from a drug to its
classes (palbociclib -> CDK4/6 inhibitor). A follow-up that names no entity ("and the side
effects?") keeps the entity of the last answer, unless it states new facts ("3L ER+
options?" is a new question); one that names no aspect ("what about Kisqali?") keeps the aspect.

When nothing resolves, the decision says so and the engine's example matcher takes over.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, replace

from .lexicon import HISTORY_WORDS as LEXICON_HISTORY_WORDS
from .lexicon import Concept, Reading
from .model import Knowledge
from .understanding.aspects import Guess
from .understanding.reading import read_message

#: The least probability the classifier must give an aspect for it to decide the unit.
ASPECT_MIN = 0.4
#: HER2 results that count as HER2-negative but open trastuzumab deruxtecan later.
LOW_HER2 = frozenset({"low", "ultralow"})
#: A dose asked before any hold ("margenza dose and LVEF holds"): the dosing card, which gives the holds too.
DOSE_ASKED = frozenset({"dose", "doses", "dosing", "dosage"})
#: Words (and the blood-test term) that name a test whose object follows "for".
TEST_NOUNS = frozenset({"test", "tests", "tested", "testing", "term:safety_bloods"})
#: The term for phone numbers (emergency, crisis and support lines).
PHONE_NUMBERS = "term:phone_numbers"
#: Terms whose "numbers" are figures (survival, blood counts, markers), not phone numbers.
FIGURE_TERMS = frozenset({"term:survival", "term:overall_survival", "term:safety_bloods", "term:monitoring"})
CALLING_WORDS = frozenset({"call", "ring", "dial", "phone", "helpline", "hotline", "line", "emergency", "crisis", "text"})
#: Words for holding a drug (a dose reduction alone asks about its levels, on the how-it-is-given card).
HOLDING = frozenset({"hold", "holding", "withhold", "interrupt", "interruption", "pause"})
#: Words that make two drugs named together one regimen.
REGIMEN_WORDS = frozenset({"regimen", "regimens", "combination", "combinations", "combo", "doublet", "triplet"})
#: Aspects at least this likely add their probability to the unit that answers them.
MASS_MIN = 0.1
#: A second aspect of a two-part question ("what is Phesgo and how is it given?").
SECOND_ASPECT_MIN = 0.2
#: Entities a follow-up may carry over: drugs and classes.
ENTITY_KINDS = ("drug", "class")
#: Follow-ups of this many words or fewer may lean on the last answer's entity.
FOLLOW_UP_WORDS = 8
#: The aspect a named symptom or toxicity settles, whatever else the wording suggests.
SIDE_EFFECTS = "side_effects"
#: The words "side effects" themselves, as the lexicon names them.
EXPLICIT_SIDE_EFFECTS = "term:side_effects"
#: Terms that name a treatment given for a symptom or a site, with a side-effects card of their own.
TREATMENT_TERMS = frozenset({"term:steroids", "term:steroid_effects"})
#: Symptoms named in so many words that a drug's side-effect card may cover (not feelings or situations).
SIDE_EFFECT_TERMS = frozenset({"term:weight_gain", "term:nausea", "term:diarrhoea", "term:hot_flushes", "term:joint_pain",
                               "term:fatigue", "term:hair_loss", "term:rash", "term:neutropenia", "term:low_platelets",
                               "term:bleeding_bruising"})
#: Words for doing harm, and the parts of the body they may be said of: with a drug named, "could
#: Kisqali harm my liver" and "is Enhertu hard on the lungs" ask about side effects, not where the
#: drug fits ("will Enhertu affect my brain mets" asks about the mets: a site word after the part).
HARM_WORDS = frozenset({"harm", "harms", "harmful", "damage", "damag", "damages", "affect", "affects", "hurt", "hurts",
                        "toxic", "hard", "kill", "killing", "wreck", "wrecking", "ruin", "ruining",
                        "mess", "messes", "messing", "muck", "mucks", "screw", "screws"})  # "does Kisqali mess with your liver?"
BODY_PARTS = frozenset({"liver", "kidney", "kidneys", "lung", "lungs", "heart", "bone", "bones", "skin", "eye", "eyes",
                        "nerve", "nerves", "body", "organ", "organs", "fertility", "period", "periods", "teeth", "tooth",
                        "jaw", "hair", "nail", "nails", "memory", "brain", "bladder", "stomach", "gut", "bowel", "bowels",
                        "blood", "immune", "mood", "sleep", "joint", "joints", "muscle", "muscles", "mouth", "sugar",
                        "sugars", "glucose", "vision", "eyesight", "hearing"})
#: Words after a part of the body that say something went wrong with it ("lung problems", "sugar went up").
TROUBLE_WORDS = frozenset({"problem", "problems", "issue", "issues", "trouble", "troubles", "damage", "damag",
                           "toxicity", "high", "up", "spike", "spiked", "worse", "weak", "weaker", "weaken",
                           "thinning", "brittle", "fragile", "fall", "falling", "stiff", "stiffer", "sore", "ache",
                           "aches", "aching", "achy", "hurt", "hurts", "painful"})  # not "thinner": "blood thinners"
#: "makes you really sick", "made her so tired": what a drug does to someone who takes it
MAKING = frozenset({"make", "makes", "made", "making"})
CAUSING = frozenset({"cause", "causes", "caused", "causing"})
MADE_WHO = frozenset({"you", "u", "me", "her", "him", "them", "people", "everyone"})
MADE_UNWELL = frozenset({"sick", "ill", "poorly", "tired", "exhausted", "bald", "nauseous", "queasy", "sleepy", "dizzy",
                         "constipated", "vomit", "puke"})
#: Hands, feet and skin: trouble with them, said before or after ("sore red palms"), is a side effect.
SURFACE_PARTS = frozenset({"hand", "hands", "feet", "foot", "palm", "palms", "sole", "soles", "finger", "fingers",
                           "fingertip", "fingertips", "toe", "toes", "lips", "scalp"})
SURFACE_TROUBLE = frozenset({"sore", "red", "peeling", "peel", "cracked", "cracking", "splitting", "split", "blister", "blisters",
                             "blistering", "tingling", "tingly", "numb", "burning", "swollen", "itchy", "rash", "dry"})
#: Names of the pivotal trials (as read: stemmed, numbers apart) that the lexicon reads as their drugs
#: (not CAPItello: typo correction reads "capi" as it).
TRIAL_NAMES = frozenset({"paloma", "monaleesa", "monarch", "postmonarch", "cleopatra", "destiny", "db", "ascent", "tropic",
                         "tropics", "tropion", "olympiad", "embraca", "solar", "emerald", "keynote", "impassion",
                         "her2climb", "inavo120", "inavo", "serena", "ember", "veritac", "bolero", "viktoria", "patina",
                         "sophia", "nala", "emilia", "evelyn", "federica", "phrancesca"})
#: Words that make a trial named after them history, not the question: "T-DM1's place post DESTINY-Breast03"
TRIAL_AS_HISTORY = frozenset({"post", "after", "since", "following", "beyond", "pre", "before", "prior"})
#: Words before a treatment someone is on now ("on letrozole", "during AI+CDK"): the scene of a question
SCENE_WORDS = frozenset({"on", "during", "taking", "while"})
#: Words before a drug that make it the treatment someone is on or had, not a drug asked about.
TREATMENT_CONTEXT_WORDS = SCENE_WORDS | TRIAL_AS_HISTORY
#: "is fulvestrant alone reasonable?", "is Kisqali an option?": where a drug fits
ALONE_WORDS = frozenset({"mono", "monotherapy", "alone", "single", "agent", "on", "its", "own", "by", "itself", "still", "really"})
REASONABLE = frozenset({"reasonable", "appropriate", "sensible", "acceptable", "ok", "okay", "suitable", "justified", "indicated"})
#: Words between "what does <drug>" and "do" ("what does Herceptin actually do?")
ACTION_FILLERS = frozenset({"actually", "really", "exactly", "even", "precisely"})
ACTION_TARGETS = frozenset({"cancer", "cell", "cells", "tumour", "tumor", "tumours", "tumors", "term:metastatic"})
#: Who a treatment is for, after "does that mean": "does that mean I get Enhertu?", "does it mean she'll need chemo?"
SUBJECTS = frozenset({"i", "she", "he", "we", "mum", "mom", "dad", "shell", "hell", "ill", "id", "theyll", "they"})
GETTING = frozenset({"get", "have", "need", "start", "go", "can", "could", "will", "should", "qualify"})
#: Words before "for <drug>" that make the drug the one sought ("a candidate for elacestrant", "qualify for Enhertu").
SEEKING_WORDS = frozenset({"candidate", "candidates", "eligible", "qualify", "qualifies", "suitable", "considered"})
ELIGIBILITY = "term:eligibility"
#: Aspects a question may ask of a trial's drug besides the trial: "SERENA-6 dose?", "PALOMA side effects"
TRIAL_OTHER_ASPECTS = frozenset({"how_given", "side_effects"})
#: The lexicon's word for a test ("what was tested"), which alone beside a trial's name asks what the trial tested.
TESTING_TERM = "term:testing"
#: Words that ask for a trial's results without naming it ("what does the data look like?").
RESULT_WORDS = frozenset({"data", "result", "results", "efficacy", "signal", "numbers", "figures", "readout", "benefit"})
#: Words that ask how a drug works or is given, which a trial named beside them does not turn into its results.
NOT_RESULT_WORDS = frozenset({"moa", "mechanism", "mechanistically", "mechan", "class", "work", "works", "target", "targets", "drug", "schedule",
                             "dose", "dosing", "given"})
#: Word pairs that ask what to watch for on a drug ("what should I look out for"): its side effects and warning signs.
WATCH_PAIRS = frozenset({("look", "out"), ("watch", "out"), ("watch", "for"), ("warning", "sign"), ("warning", "signs"),
                         # "which symptoms on capivasertib need urgent review?", "what should patients report straight away?"
                         ("which", "symptoms"), ("what", "symptoms"), ("which", "symptom"), ("what", "symptom"),
                         ("urgent", "review"), ("report", "straight"), ("ring", "straight"), ("call", "straight"),
                         ("report", "immediately"), ("call", "immediately")})
SITE_WORDS = frozenset({"met", "mets", "metastases", "metastasis", "metastatic", "spread", "tumour", "tumor", "cancer",
                        "lesion", "lesions", "nodule", "nodules", "disease"})
HARM_REACH = 4
#: Two aspects of a two-part question ("what's in Phesgo and how is it given?") that together are
#: this likely are answered even when neither alone reaches ASPECT_MIN.
TWO_PART_MIN = 0.6
#: Terms that name the way a drug is given without asking how ("every 3 months"): with a symptom or a
#: test, the question is the symptom ("why a heart scan every 3 months on Herceptin?").
WEAK_HINTS = frozenset({"term:route", "term:injection", "term:schedule"})
#: Blood tests that watch a drug's harms, and tests for genes.
BLOOD_TESTS, GENE_TESTS, GENE_SLOT = "term:safety_bloods", "term:genetic_test", "slot:mutation="
#: A term's aspect within this factor of the classifier's best guess breaks the tie in its favour.
TIE_BREAK = 2.0
#: Aspects asked of a drug: without a drug named, a stated line outweighs them in a near tie.
DRUG_ASPECTS = frozenset({"what", "where_fits", "evidence", "how_given"})
#: The term for how often something is done: with a test named, the question is the test's.
FREQUENCY = "term:frequency"
#: The aspect of tests; tests of an organ a drug harms are about its side effects.
TESTING = "testing"
#: Words for a test in general ("a special test", "gene test"), not a test of its own.
GENERIC_TEST_TERMS = frozenset({"term:testing", "term:genetic_test", "term:biopsy"})
#: Words that ask for a test before a drug is started, and the tests that watch a drug once it is given.
BEFORE_WORDS = frozenset({"before", "beforehand", "first", "qualify", "eligible"})
MONITORING_TESTS = frozenset({"term:monitoring", "term:blood_monitoring", "term:safety_bloods", "term:heart", "term:qt"})
#: Words that state the situation a test is asked in, not a test.
TEST_SITUATION_TERMS = frozenset({"term:triple_negative", "term:metastatic", "term:options", "term:first_step"})
#: A card declaring testing among this many aspects at most is about a test, not a catch-all.
TEST_CARD_ASPECTS = 3
#: A card declaring this many aspects answers anything about its concept, not one aspect in particular.
CATCH_ALL = 8
#: At most this many units in one reply (two entities or two aspects).
MAX_UNITS = 2
#: Words that make a second drug a second question ("Kisqali or Verzenio?", "denosumab vs zoledronate").
COMPARING = frozenset({"or", "vs", "versus", "compared", "compare", "than"})
#: Aspects of a "difference between" two drugs of a class that the class's own card can answer.
CLASS_DIFFERENCE_ASPECTS = frozenset({"what", "where_fits", "evidence", "side_effects"})
MECHANISM = "term:mechanism"
MECHANISM_WORDS = frozenset({"mechanistic", "mechanistically"})
#: Words that ask how to pick between the drugs named ("alpelisib or capivasertib? how do you choose").
PICKING = frozenset({"choose", "choosing", "pick", "picking", "decide", "deciding", "select", "selecting"})
#: Words that make a comparison a choice between the things named.
CHOOSING = frozenset({"best", "better", "worse", "worst", "prefer", "preferred", "superior"}) | PICKING
#: What a question choosing between two drugs of one class may be guessed to ask.
CHOOSING_ASPECTS = frozenset({"evidence", "where_fits", "what"})
#: Words that ask what a result changes ("does BRCA change the first treatment?"), after one of the
#: auxiliaries, and the words that start their object ("change the treatment", not "a BRCA2 change").
EFFECT_WORDS = frozenset({"change", "changes", "affect", "affects", "matter", "matters", "alter", "alters"})
AUXILIARIES = frozenset({"does", "do", "will", "would", "could", "can", "might", "may"})
OBJECT_STARTS = frozenset({"the", "my", "her", "his", "what", "which", "how"})
#: Leading terms that give way to a more specific leading term in the same message: warning signs
#: to the emergency named, the chest wall's skin (the scene) to what is asked of it ("chest wall RT dermatitis").
#: Questions about warning signs ("which signs mean A&E?"): a drug named beside them is asked its side effects.
WARNING_SIGNS = "term:warning_signs"
#: Monitoring said of a drug is its safety checks ("T-DM1 monitoring essentials"), unless the words are of
#: response: scans, markers, restaging
MONITORING = "term:monitoring"
#: "side effects" in so many words
SIDE_EFFECTS_TERM = "term:side_effects"
#: a dose missed, or thrown up soon after: the rule for it is on the drug's own how-it-is-given card
MISSED_DOSE = "term:missed_dose"
RESPONSE_WORDS = frozenset({"scan", "scans", "response", "respond", "responding", "marker", "markers", "restaging", "restage", "restag",
                            "progression", "recist", "ca", "cea", "imaging", "ct", "pet", "working"})
GENERAL_LEADS = frozenset({WARNING_SIGNS, "term:skin_chest_wall"})
#: leading terms that give way to a narrower one named with them: "supplements" said with a bone drug means its
#: calcium and vitamin D; "does massage help my swollen arm?" is lymphoedema; "travelling to NZ, emergency number
#: there?" asks for the number
GIVES_WAY_TO = {"term:complementary_medicine": ("term:calcium_supplement", "term:lymphoedema"),
                "term:travel": ("term:phone_numbers",),
                # "sugar feeds cancer, someone at work said": the diet; "so foggy since chemo, my boss noticed": the
                # chemo brain card; "a plan for the end ... where I want to die":
                # advance care planning, not making plans in general; "came back after tamoxifen, what do they do for
                # men?": the men's card (the early-relapse card is written for triple-negative cancer)
                "term:work_money": ("term:diet", "term:chemo_brain"), "term:spirituality": ("term:advance_care_planning",),
                "term:early_relapse": ("term:male_breast_cancer",)}
#: a drug's subcutaneous form; the local-treatment aspect and the treatments it names
SUBCUTANEOUS = "term:subcutaneous"
LOCAL_TREATMENT = "local_treatment"
LOCAL_TREATMENT_TERMS = frozenset({"term:surgery", "term:radiotherapy", "term:local_procedure"})
#: "or is it only drugs?", "or just the tablets?": local treatment set against medicines
ONLY_WORDS = frozenset({"only", "just"})
DRUG_WORDS = frozenset({"drugs", "drug", "tablets", "tablet", "pills", "medicine", "medicines", "medication", "medications",
                        "chemo", "treatment", "treatments"})
#: A schedule named: explaining it is how the drug is given, not a word's meaning
SCHEDULE_TERMS = frozenset({"term:schedule", FREQUENCY})
METASTATIC = "term:metastatic"
#: Words that ask whether one drug is a kind of another ("is Enhertu a type of Herceptin?").
KIND_WORDS = frozenset({"type", "kind", "form", "version", "sort"})
#: ... and the words around them ("is Keytruda actually a chemo?", "a type of Herceptin")
KIND_FILLER = KIND_WORDS | {"a", "an", "actually", "really", "also", "like", "of", "one", "the"}
#: A drug's form, named after it ("the Zoladex injection").
DRUG_FORMS = frozenset({"term:injection", "injection", "injections", "jab", "jabs", "shot", "shots", "tablet", "tablets",
                        "pill", "pills", "drip", "implant", "term:route"})
#: Words that point back to the drug just named ("is that one of the PARP drugs?").
KIND_PRONOUNS = frozenset({"that", "it", "this"})
#: terms asked of a drug ("with grapefruit"): with "it" after an answer about a drug, that drug is asked about
DRUG_RIDERS = frozenset({"term:grapefruit"})
#: Words setting a drug beside another ("similar to Enhertu?"; "is that like Lynparza?" is read apart)
LIKENESS = frozenset({("same", "as"), ("similar", "to")})
#: The words between "how does" and "work" when a drug's action is asked ("how does that drug actually work?").
WORKING_FILLER = frozenset({"that", "this", "the", "it", "<drug>", "drug", "medicine", "tablet", "pill", "one", "actually",
                            "really", "exactly"})

#: a scan, and the words after it that say what it found ("the scan showed ..."), with the treating asked next
SCAN = "term:scan"
SURGERY = "term:surgery"
FOUND_WORDS = frozenset({"show", "showed", "shows", "shown", "found"})
TREAT_WORDS = frozenset({"treat", "treated", "treating", "treatable"})
#: Words that ask when (or on which signs) to call, next to the names of the lines to call.
WHEN_WORDS = frozenset({"when", "symptoms", "symptom", "signs", "sign", "mean", "means"})
#: Words that, after "from", lead to the drug switched to ("from the drips to the Phesgo injection").
SWITCHED_TO = frozenset({"to", "onto"})
#: Leading terms that ask a carer's question ("how can I support him?"), and the terms that then only say the
#: situation: the person being a man, or avoiding the subject.
CARER_LEADS = frozenset({"term:carer"})
SITUATION_LEADS = frozenset({"term:male_breast_cancer", "term:relationships"})
#: Breast cancer in a man, and the words that ask about men as such.
MEN = "term:male_breast_cancer"
MEN_WORDS = frozenset({"men", "male", "males", "mens", "women", "woman", "womens", "womans", "man"})
#: Words before a symptom that make it the cared-for person's ("help my wife with mouth sores", "her nausea").
THEIR_WORDS = frozenset({"with", "her", "his", "their"})
#: Whom "what does it mean for ..." asks about: what follows for them, not what a word means.
PERSONS = frozenset({"me", "her", "him", "us", "them", "my", "mum", "mom", "dad"})
#: What "what is ... for" may ask about once a drug is named: the drug, or a word pointing back to it.
USE_SUBJECTS = frozenset({"<drug>", "it", "that", "this"})
#: Words after "what is <drug> for" that name the disease it treats, not ask who it is for.
DISEASE_WORDS = frozenset({"breast", "cancer", "mbc", "metastatic", "term:metastatic", "stage", "secondary"})
#: Words that make "X and Y" a comparison ("the difference between Kisqali and Ibrance").
DIFFERENCE_WORDS = frozenset({"difference", "differences", "differ", "different", "compare", "comparison", "better", "best", "worse"})
#: A class of more drugs than this ("chemotherapy", "targeted therapy") says too little about what a
#: question is about to pick a unit: such questions go to the example matcher.
BROAD_CLASS = 8
#: An aspect below ASPECT_MIN still says what is asked when it is at least this likely and
#: DOMINANCE times the next one (it guides the choice among matched topics, never a unit).
CLEAR_MIN = 0.3
DOMINANCE = 2.5
#: Words that ask for a meaning.
MEANING_WORDS = frozenset({"mean", "means", "meaning", "define", "definition", "stand", "stands"})
#: Words before "mean" that make it "indicate": "which symptoms mean I should call?"
INDICATING = frozenset({"symptom", "symptoms", "sign", "signs", "result", "results", "number", "numbers", "level", "levels"})
#: "How is X defined" asks for a definition whatever else the message says ("defined" reads as "defin").
DEFINING = frozenset({"defin", "defined"})
#: "Why do they call it ...", "why is it called ...": what a name means
NAMING = frozenset({"call", "called", "named"})
#: Words that really ask what something is.
WHAT_WORDS = frozenset({"what", "whats", "explain", "mean", "means", "meaning", "define", "definition"})
#: Words that may stand between "does that" and "mean" when it asks what follows ("does that automatically mean...").
MEAN_ADVERBS = frozenset({"automatically", "necessarily", "always", "definitely", "really"})
#: "Does that mean...?" asks what follows from something, not what a word means.
IMPLYING = frozenset([("does", w, "mean") for w in ("it", "that", "this")] + [("that", "means", w) for w in ("it", "she", "he", "i", "the")])

#: Words before a drug that make it part of the person's history, not the subject of the question.
HISTORY_WORDS = LEXICON_HISTORY_WORDS | {"since", "previously", "pretreated", "pd"}  # "PD on fulv+abema"
#: Words just before a drug that make it history when another drug or a result is the question ("she had Enhertu").
PAST_WORDS = HISTORY_WORDS | {"had", "was", "tried", "used", "finish", "finishe", "finished", "complet", "completed", "complete", "stopped",
                              "through", "despite",  # "been through letrozole, ibrance and faslodex"; "spread despite tamoxifen"
                              "adjuvant", "neoadjuvant",  # "relapsed on adjuvant letrozole": treatment of early disease
                              "grown", "grew", "growing", "worse"}  # "it has grown again on capecitabine"
#: Words between a history word and the drug it makes history ("after palbo and letrozole").
HISTORY_LINKS = frozenset({"<drug>", "<class>", "and", "plus", "with", "on", "+", "&", "i", "she", "he", "we", "her", "my", "the", "a",
                           "thp", "tchp", "hp", "ph", "again",  # regimen shorthand: "after THP and T-DXd"; "grown again on"
                           "incl", "including", "line", "lines"})  # "2 prior ET lines incl CDK4/6i"
#: Words that join a class to what it included ("ET lines incl CDK4/6i").
INCLUDING = frozenset({"incl", "including", "line", "lines"})
#: Words and names that continue a combination after a drug ("palbo and letrozole stopped working").
COMBINING = frozenset({"<drug>", "<class>", "and", "plus", "with", "+", "&"})
# "letrozole and Kisqali worked for 3 years, now spots in the liver": a combination that worked for a time is history
WORKED_FOR = ("work", "for")
#: How a drug was taken, between its name and what it did ("letrozole alone worked 3 years").
ALONE_BEFORE_WORK = frozenset({"alone", "only", "by", "itself", "on", "its", "own"})
#: Plain words for what a gene test looks for.
GENE_WORDS = frozenset({"mutation", "mutations", "mutat", "gene", "genes", "genetic", "dna"})
#: Words before a drug that make "work for" a question ("does Zometa work for bone mets?"), not its history.
ASKING_WORK = frozenset({"does", "do", "did", "will", "would", "can", "could", "might", "may", "should", "it", "to"})
#: Words that join a class to the drug after it in a combination.
JOINING = frozenset({"and", "plus", "with", "+", "&"})
#: What joins a class to the next treatment of the same history ("ET and CDK4/6i", "ET lines incl CDK4/6i")
CLASS_JOINING = JOINING | INCLUDING
#: Words between the items of a list of past treatments ("CDK4/6, ET then T-DXd").
LIST_LINKS = JOINING | {"then", "or", "/"}
#: Aspects of a drug's card a terse list may ask for together ("dose and side effects?"), and the words
#: that join them ("with" and "plus" join a scene: "faslodex with apixaban and low platelets").
ASPECT_LINKS = frozenset({"and", "&", "/", "or"})
LISTED_ASPECTS = frozenset({"what", "how_given", "side_effects", "where_fits", "evidence"})
#: The class of cytotoxic drugs: two of them named together are a regimen.
CHEMOTHERAPY = "class:chemotherapy"
#: Aspects that, asked about drugs named only as history, ask what comes next.
NEXT_STEP_ASPECTS = frozenset({"what", "where_fits", "evidence", "first_line"})
AFTER_PROGRESSION = "after_progression"
#: A list of this many treatments after a history word is all history.
HISTORY_LIST = 3
#: How sure "what now?" is, asked of drugs named only as history: the message's shape says it, not its words.
HISTORY_SURE = 0.7
OUTLOOK, EVIDENCE = "outlook", "evidence"
SURVIVAL = "term:survival"
#: A germline BRCA result, and a variant of uncertain significance (which should change nothing).
BRCA = "slot:mutation=brca"
VUS = "term:vus"
#: HER2 results below positive, asked what they mean; "does that mean I get...?" asks about the drug.
LOW_LEVELS = frozenset({"low", "ultralow"})
ELIGIBLE_WORDS = frozenset({"eligible", "eligibility", "qualify", "qualifies"})
HOW_GIVEN = "how_given"
#: Dental work on a bone-strengthening drug; calcium or the schedule asked beside it keep the broader cards.
DENTAL_WORK = "term:dental_work"
BONE_AGENTS = "class:bone_modifying_agent"
CALCIUM_TERM = "term:calcium"
CALCIUM_WORDS = frozenset({"ca", "calcium", "vit", "vitamin"})
SCHEDULE_WORDS = frozenset({"escalation", "deescalation", "duration", "interval", "q12w", "frequency"})
#: relatives an inherited result may concern
RELATIVES = frozenset({"daughter", "daughters", "son", "sons", "sister", "sisters", "brother", "brothers", "children", "kids",
                       "child", "family", "relatives", "niece", "nieces", "nephew", "nephews", "cousin", "cousins", "grandchildren"})
#: "is it hereditary?": whether cancer runs in families, not what one result means for them
HEREDITY_ASKED = frozenset({"hereditary", "inherited", "inherit", "heritable", "genetic"})
#: Survival set across subtypes, and the outlook card's entity.
SURVIVAL_TERMS = frozenset({SURVIVAL, "term:overall_survival"})
PROGNOSIS = "term:prognosis_talk"
SUBTYPE_TERM = "term:subtype"
#: each names one subtype: two of them set side by side ask across subtypes
SUBTYPE_MARKERS = frozenset({SUBTYPE_TERM, "slot:hr=positive", "slot:her2=positive", "term:triple_negative"})
#: Feelings whose cards answer anything about them, but not how long someone may live.
FEELINGS = frozenset({"term:anxiety", "term:mood"})
#: "A vs B": two things set against each other.
VERSUS = frozenset({"vs", "versus", "v"})
#: Below this, "what" for two drugs set against each other is the classifier's hesitation, not a definition asked.
CLEAR_WHAT = 0.6
#: Words asking how selective a drug is for its target.
SELECTIVITY = frozenset({"selective", "selectivity", "selectively", "specificity"})
#: Words that contrast what two drugs are ("tucatinib vs lapatinib: selectivity?"), not how they compare.
WHAT_CONTRASTS = SELECTIVITY | {"mechanism", "moa", "class", "target", "targets", "structure"}
#: Words asking how often a gene change is found.
PREVALENCE_WORDS = frozenset({"prevalence", "prevalent", "incidence", "frequency", "common", "commonly", "often"})
#: Words that open a question.
QUESTION_OPENERS = frozenset({"why", "what", "whats", "how", "when", "which", "does", "do", "is", "can", "should", "will"})
#: With a subtype stated, a first or next treatment asked this clearly outweighs a feeling named beside it.
FEELING_GIVES_WAY = 0.5
#: Words that ask how to bear something: with a feeling named, the feeling's card answers.
COPING = frozenset({"cope", "coping"})
#: The lexicon's trials; asked after a treatment stopped working, the trials card answers.
TRIALS_TERM = "term:clinical_trial"
#: "What happens if I stop treatment?": the stopping card answers, whatever reason is given.
IF_STOPPED = "term:if_stopped"
STOPPING = "stopping"
#: Aspects about a treatment that a named drug's cards answer better than a feeling's card.
TREATMENT_ASPECTS = frozenset({"after_progression", "first_line", "where_fits", "how_given", "side_effects", "evidence"})
TRIALS = "trials"
#: Words that ask about joining a trial; without them, "trial" asked of a drug or result is its evidence.
JOINING_TRIAL_WORDS = frozenset({"join", "joining", "enrol", "enroll", "enrolling", "enrolment", "enrollment", "recruit", "recruiting",
                                 "eligible", "eligibility", "find", "finding", "look", "looking", "search", "open", "available", "near",
                                 "participate", "part", "sign", "clinicaltrial", "clinicaltrials", "refer", "referral", "options", "option"})
#: Words that ask which trial showed something ("which trial got it approved", "definition and trial").
EVIDENCE_TRIAL_WORDS = frozenset({"which", "pivotal", "approved", "approval", "registration", "registrational", "definition",
                                  "defined", "define", "data", "result", "showed", "show", "led", "got", "based", "evidence"})
#: Slots whose stated value is a result a trial selected for ("HER2-ultralow - definition and trial").
RESULT_SLOTS = frozenset({"her2", "mutation"})
LATER_LINES = frozenset({"second", "later"})
#: Aspects no drug card answers: asked of a drug in the terms that signal them, their overview answers.
OVERVIEW_FIRST = frozenset({STOPPING})
#: Words and word pairs that ask how to ease or cope with a symptom, which its own card answers.
MANAGING_WORDS = frozenset({"cope", "coping", "manage", "manag", "ease", "easing", "relieve", "relief", "soothe", "tips", "help",
                            "helps", "helped", "cream", "creams", "remedy", "remedies", "practical", "prn", "rescue",
                            "mouthcare", "options", "alternatives", "alternative", "breakthrough", "rinse", "rinses",
                            "gargle"})
MANAGING_PAIRS = frozenset({("i", "eat"), ("to", "eat"), ("cant", "eat"), ("she", "eat"), ("he", "eat"), ("go", "away"), ("grow", "back"),
                            # "so sore I can hardly eat", "what can I use?", "how can I make them better?", "anything I can do?"
                            ("hardly", "eat"), ("barely", "eat"), ("i", "use"), ("we", "use"), ("she", "use"), ("them", "better"), ("it", "better"), ("can", "do"),
                            # "what does sepsis look like, what should I look out for?": the symptom's own card
                            ("look", "like"), ("look", "out"), ("listen", "out"),
                            # "hot flushes on letrozole, what is safe to take?": what eases the symptom
                            ("safe", "to"),
                            ("i", "do"), ("we", "do"), ("she", "do"), ("get", "better"), ("wear", "off"),
                            ("how", "long"), ("anyth", "stop"), ("anyth", "prevent"), ("stop", "it"), ("prevent", "it"), ("save", "my"),
                            # "the anti-sickness tablets aren't touching it", "what else is there?", "what else can I try?"
                            ("touch", "it"), ("touching", "it"), ("else", "is"), ("else", "can"), ("else", "could"), ("else", "for"),
                            # "hot flushes on letrozole, what can I take that's safe?"
                            ("i", "take"), ("she", "take"), ("can", "take"),
                            # "hot flushes on letrozole, anything that isn't hormones?", "anything non-hormonal?"
                            ("isnt", "hormone"), ("non", "hormonal"), ("anyth", "non"), ("anyth", "that")})
#: Side effects at least this likely beside a guess of how a drug is given, and words that ask for ways to ease
#: a symptom ("any tips?", not "what can help?", which a drug's own card often answers), ask the easing.
EASING_OVER_GIVEN = 0.3
EASING_WORDS = frozenset({"tips", "tip", "cope", "coping", "manage", "manag", "ease", "easing", "relieve", "remedy", "remedies"})
#: What a result is asked to mean for ("what does this mean for my treatment?").
TREATMENT_OBJECTS = frozenset({"treatment", "treatments", "options", "option", "treat"})
#: Kinds of endocrine therapy with no "what it is" card of their own, which the endocrine therapy card explains,
#: and the kinds that may be set against them in the same question ("AI vs SERD?").
EXPLAINED_WITH_ENDOCRINE = frozenset({"class:aromatase_inhibitor", "class:serm"})
ENDOCRINE_KINDS = EXPLAINED_WITH_ENDOCRINE | {"class:serd"}
ENDOCRINE_EXPLAINED = "term:endocrine_explained"
#: An early relapse and the card for one that is hormone-receptor positive (endocrine resistance).
EARLY_RELAPSE = "term:early_relapse"
#: An early relapse with no subtype named: the card on what the timing means for each subtype.
EARLY_RELAPSE_ANY = "term:early_relapse_any"
SUBTYPE_KEYS = frozenset({"hr", "her2"})
#: "after I finished chemo": the early treatment's history, naming no subtype
HISTORY_CLASSES = frozenset({"class:chemotherapy"})
#: pembrolizumab around surgery (KEYNOTE-522) is given for triple-negative disease: the subtype is implied
TNBC_HISTORY = frozenset({"keytruda", "pembro", "pembrolizumab", "keynote", "kn522", "522"})
ENDOCRINE_CLASS = "class:endocrine_therapy"
FIRST_WORDS = frozenset({"first", "start", "straight"})
#: "endocrine therapy instead of chemo?", "rather than chemo": one set in place of the other as what comes first
CHOSEN_FIRST = FIRST_WORDS | {"instead", "rather"}
ENDOCRINE_RESISTANCE = "term:visceral_crisis"
HER2_LATER = "class:her2_antibody"
#: "maintenance", "maintainance", "maintain": the words that name the phase of treatment
MAINTENANCE_STEMS = ("mainten", "maintain")
MAINTENANCE = "term:maintenance"
#: "PD on HP maintenance", "progressed during maintenance": the phase is where something else happened
MAINTENANCE_SCENE = frozenset({"on", "in", "during", "while", "through"})
#: "loading and maintenance doses": the maintenance dose, not the phase
LOADING = frozenset({"loading", "load", "reload", "reloading"})
#: named with maintenance, these are what is asked: a dose, a progression, a trial's own card
MAINTENANCE_ELSEWHERE = frozenset({"term:dose", "term:progression", "term:patina_trial"})
#: Stopping HER2 therapy in a long remission, and the words that make it stopping at progression instead.
HER2_STOPPING = "term:her2_stopping"
GROWTH_WORDS = frozenset({"grown", "grew", "growing", "grows", "progressed", "progressing", "progression", "pd", "bigger", "worse"})
#: CDK4/6 inhibitors as a class; its after-progression card, and sacituzumab's, are the later-lines cards of the
#: other two subtypes.
CDK46 = "class:cdk46_inhibitor"
HR_POSITIVE_LATER = CDK46
TNBC_LATER = "drug:sacituzumab_govitecan"
#: How likely "what comes next" must be for a list of past treatments to get the later-lines card (0.2 lost a
#: HER2-positive maintenance question on the question sets).
NEXT_LINE_LIKELY = 0.25
#: Words that say the person is young, and those an age in years follows ("I'm 38", "she is 41", "aged 35").
YOUNG_WORDS = frozenset({"young", "premenopausal"})
AGE_LEADS = frozenset({"im", "am", "is", "shes", "hes", "aged", "age"})
#: Words that ask whether treatment differs ("is it different", "the same as older women").
COMPARING_WORDS = frozenset({"different", "differ", "same", "older", "age"})
#: Words that make a drug the early cancer's treatment ("adj AI", "adjuvant tamoxifen"), unless it was taken then
#: ("relapse on adjuvant letrozole").
ADJUVANT_WORDS = frozenset({"adj", "adjuvant"})
DURING_WORDS = frozenset({"on", "during", "while", "whilst"})
#: Single words that ask how long a symptom lasts.
LASTING_WORDS = frozenset({"permanent", "permanently", "irreversible", "reversible", "lasting", "forever"})
#: Stated before menopause with nothing else named, these aspects ask how treatment differs: the card on ovarian suppression.
OVARIAN_SUPPRESSION = "class:ovarian_suppression"
PREMENOPAUSAL_ASPECTS = frozenset({"what", "where_fits", "how_given", "first_line", "after_progression", "evidence"})
#: Aspects answered by the regimen for a subtype, and the slots that say the subtype.
LINE_ASPECTS = frozenset({"first_line", AFTER_PROGRESSION})
#: Words that ask for the first treatment ("the first treatment", "what do they start with").
FIRST_LINE_CUES = frozenset({"slot:line=first", "term:first_step"})
#: When the cancer became stage 4 (from the start, or years after early treatment): with a subtype and a
#: first line asked, the scene of the question, not what it asks.
TIMING_SCENES = frozenset({"term:stage4_timing"})
#: Words between a feeling and the drug it is said of ("can't cope with the letrozole")
OWNER_WORDS = frozenset({"the", "my", "his", "her", "their", "this"})
#: A drug the cancer spread or grew on: "even on tamoxifen", "despite being on Kisqali"
DESPITE_WORDS = (("even", "on"), ("while", "on"), ("still", "on"), ("still", "taking"), ("whilst", "on"), ("while", "taking"), ("despite",), ("despite", "being", "on"), ("despite", "taking"), ("even", "with"))
SPREAD_TAGS = frozenset({"term:metastatic", "term:progression", "spread", "spreading"})
#: Words that ask what comes next ("what are the options now?")
OPTIONS = "term:options"
NEXT_WORDS = frozenset({OPTIONS, "next", "now", "else"})
#: Terms that are the subject only when nothing else is named ("which guidelines cover MBC?")
BACKGROUND_TERMS = frozenset({"term:guidelines"})
#: Where a line of treatment stands, not what is asked when a later line is: "HER2+ progressing on 1L THP
#: maintenance: 2L standard?"
LINE_SCENES = frozenset({"term:maintenance"})
SUBTYPE_SLOTS = frozenset({"hr", "her2"})
#: The term for a treatment that stopped working ("Xeloda stopped working").
PROGRESSION = "term:progression"

#: Aspects whose fallback (where it fits) suits a drug but not a site or biomarker: "first line
#: for PD-L1+ TNBC" asks for the regimen, not what PD-L1 is; "after Verzenio, could Piqray be an
#: option?" asks where Piqray fits.
DRUG_ONLY_FALLBACKS = frozenset({"first_line", AFTER_PROGRESSION})
#: Words that start a second question after "and" ("what is Phesgo and how is it given?"; not
#: "my eyes are dry and sore").
SECOND_QUESTION_WORDS = frozenset({"how", "what", "who", "when", "where", "which", "why", "is", "are", "does", "do",
                                   "can", "should", "its", "side", "dose", "dosing", "evidence", "trial", "data"})
#: Openings of a follow-up that keeps the last answer's thread ("what about anastrozole?"); the
#: engine adds its own to these.
FOLLOW_UP_OPENERS = (("what", "about"), ("how", "about"), ("and",), ("what", "if"))
#: Words that point back to the previous answer ("can she take it with food?"), shared with the engine.
POINTING_WORDS = frozenset({"it", "that", "this", "these", "those", "they", "them", "same"})
#: ... and, for the drug of the last answer, its possessive and the person asked about ("how is it given?").
BACK_REFERENCES = POINTING_WORDS | {"its", "she", "her"}
#: A question this short leans on the last answer even without pointing back ("dose?", "side effects?").
BARE_FOLLOW_UP_WORDS = 3


@dataclass(frozen=True, slots=True)
class Decision:
    """The routing of one question: the units to answer, and what they were chosen for."""

    units: tuple[str, ...] = ()
    entity: str | None = None  # concept id: "drug:palbociclib"
    aspect: str | None = None
    probability: float = 0.0  # the classifier's for the aspect
    carried: bool = False  # the entity or aspect came from the last answer
    guesses: tuple[Guess, ...] = ()  # every aspect the message may ask, with its probability
    #: the entity's only card, served although it does not declare the aspect asked: a confident
    #: example match knows better ("radiotherapy for painful bone mets" is the bone topic's)
    by_card: bool = False
    #: the unit the best guess points to when no guess is sure enough: answered, with buttons for
    #: the rest of the card, rather than a choice among topics when no example matches well
    tentative: str | None = None

    def likelihood(self, aspect: str) -> float:
        """How likely the message asks ``aspect`` (0 when the classifier had nothing to go on)."""
        return next((g.probability for g in self.guesses if g.aspect == aspect), 0.0)

    @property
    def resolved(self) -> bool:
        return bool(self.units)


@dataclass(frozen=True, slots=True)
class Context:
    """What the last answer was about."""

    entity: str | None = None
    aspect: str | None = None


@dataclass(frozen=True)
class ClosingQuestion:
    """A question that closes a message of statements, read on its own, and the concepts only it names."""

    reading: Reading
    new: frozenset[str]


def route(knowledge: Knowledge, reading: Reading, context: Context = Context(),
          closing: ClosingQuestion | None = None) -> Decision:
    """Decide which units answer a message (an unresolved decision when none does).

    The decision read from the message's concepts and aspect (_route) then meets readings of the whole
    message that know better: a gene named as the object of a test, a result that changes little of the
    first treatment, first-line regimens set side by side, kinds of endocrine therapy asked what they are,
    a gene result reported or asked what it means for treatment, an early relapse that is not triple-negative,
    endocrine therapy set against chemotherapy as what comes first, several past treatments named in a question
    about what comes next, a young woman with HR-positive disease asking whether her treatment differs, a HER2-low
    result asked what it means, dental work on a bone drug, a BRCA result asked for the family, survival set
    across subtypes, maintenance as a phase of treatment, and stopping HER2 therapy once the cancer has grown.
    """
    decision = _route(knowledge, reading, context, closing)
    if decision.carried:
        return decision
    return (_test_named(knowledge, reading, decision) or _first_line_result(knowledge, reading, decision)
            or _first_line_compared(knowledge, reading, decision) or _endocrine_kinds(knowledge, reading, decision)
            or _result_for_treatment(knowledge, reading, decision) or _relapse_by_subtype(knowledge, reading, decision)
            or _endocrine_before_chemo(knowledge, reading, decision) or _later_lines_by_subtype(knowledge, reading, decision)
            or _young_and_hormone_positive(knowledge, reading, decision) or _first_line_after_adjuvant(knowledge, reading, decision)
            or _her2_low_explained(knowledge, reading, decision) or _dental_on_bone_drug(knowledge, reading, decision)
            or _gene_for_family(knowledge, reading, decision) or _survival_by_subtype(knowledge, reading, decision)
            or _maintenance_asked(knowledge, reading, decision) or _her2_stopped_at_growth(knowledge, reading, decision)
            or _local_or_only_drugs(knowledge, reading, decision) or decision)


def _test_named(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"The doctor mentioned a blood test for ESR1, what is that for?": the test named is what is asked about;
    the drug that stopped working or the organ it grew in (the decision's entity) is the scene."""
    tested = _tested_marker(reading)
    if tested is None or decision.entity is None or not (
            decision.entity.split(":", 1)[0] in ENTITY_KINDS or is_site(knowledge, decision.entity)):
        return None
    card = lookup(knowledge, tested, TESTING)
    return replace(decision, units=(card,), entity=tested, aspect=TESTING) if card is not None else None


def _first_line_result(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"HER2-low: does that change the first treatment?", "do BRCA carriers get a different first treatment?":
    the result's card says what it changes, first line included, whatever the receptor status (the first-line
    card would ask for it first)."""
    marker = _first_line_marker(reading)
    first_asked = decision.units == (_first_line_card(knowledge),) or (not decision.units and reading.sets.get("line") == "first")
    if marker is None or not first_asked or _names_a_drug(knowledge, reading):
        return None
    card = lookup(knowledge, marker, "where_fits")
    return replace(decision, units=(card,), entity=marker, aspect="where_fits", by_card=False) if card is not None else None


def _first_line_compared(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"1L endocrine-sensitive: AI vs fulv backbone with palbo?": first-line regimens set side by side, when no
    one drug's card answers the comparison (the decision is otherwise unresolved)."""
    first_card = _first_line_card(knowledge)
    if (decision.units or decision.aspect != "first_line" or decision.probability < ASPECT_MIN
            or reading.sets.get("line") != "first" or first_card not in knowledge.topics
            or len(_named_entities(knowledge, reading)) < 2):
        return None
    return replace(decision, units=(first_card,), by_card=True)


def _endocrine_before_chemo(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Is it normal to get hormone therapy first and not chemo?": endocrine therapy and chemotherapy set against
    each other as what comes first, with nothing else resolved or only a site's card ("bone mets only: chemo or
    tablets first?"): the first-line card says why."""
    first_card = _first_line_card(knowledge)
    classes = {c.id for c in reading.concepts if c.kind == "class"}
    site_only = decision.entity is not None and is_site(knowledge, decision.entity)  # "bone mets only: chemo or tablets first?"
    if ((decision.units and not site_only) or first_card not in knowledge.topics or CHEMOTHERAPY not in classes
            or not classes & (ENDOCRINE_KINDS | {ENDOCRINE_CLASS}) or not CHOSEN_FIRST.intersection(reading.words)):
        return None
    return replace(decision, units=(first_card,), aspect="first_line", by_card=True)


def _endocrine_kinds(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"What is an aromatase inhibitor?", "AI vs SERD mechanistically?", "AI vs tamoxifen?": kinds of endocrine
    therapy with no card of their own, asked what they are: the endocrine therapy card explains each kind."""
    named = {c.id: c for c in reading.concepts
             if c.kind in ENTITY_KINDS and (c.id in ENDOCRINE_KINDS or _specific(knowledge, c.id))}  # not "a chemo nurse"
    kinds = named.keys() & ENDOCRINE_KINDS
    card = knowledge.units.get((ENDOCRINE_EXPLAINED, "what"))
    if decision.aspect != "what" or card is None or not kinds & EXPLAINED_WITH_ENDOCRINE:
        return None
    if decision.units and not (decision.entity in named and lookup(knowledge, decision.entity, "what") in decision.units):
        return None  # "vaginal atrophy on an AI: is vaginal oestrogen OK?" is decided by what it asks about
    # a drug of another kind is set against the kind ("AI vs tamoxifen"); a drug of the kind itself is
    # what is asked about ("steroidal vs non-steroidal AIs, exemestane the odd one out?"), and its own card says
    for entity, concept in named.items():
        if entity not in kinds and (not _endocrine(concept) or kinds.intersection(concept.implies)):
            return None
    kind = next(c.id for c in reading.concepts if c.id in kinds)  # the kind a follow-up goes on asking about
    return replace(decision, units=(card,), entity=kind, by_card=False)


def _result_for_treatment(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"My report says ESR1 mutation detected, what does this mean for my treatment?": a gene result and what it
    means for treatment asked, no drug named: the result's card says which treatments it opens. Reported with
    nothing else read ("the blood test found ESR1, is that bad news?"): the result's own card."""
    marker = next((w for w in reading.tagged if w.startswith("slot:mutation=")), None)
    if marker is None or _names_a_drug(knowledge, reading):
        return None
    if any(c.id == VUS for c in reading.concepts):
        return None  # "a variant of uncertain significance, what does it mean for treatment?": it should change nothing
    if not _means_for_treatment(reading.words):
        if decision.units or decision.entity is not None:
            return None
        # "the blood test found ESR1, is that bad news?": nothing else read, so the result's own card
        card = lookup(knowledge, marker, "what") or lookup(knowledge, marker, "where_fits")
        return replace(decision, units=(card,), entity=marker, aspect=None, by_card=False) if card else None
    card = lookup(knowledge, marker, "where_fits")
    if card is None or card in decision.units:
        return None
    return replace(decision, units=(card,), entity=marker, aspect="where_fits", by_card=False)


def _relapse_by_subtype(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """An early relapse whose subtype is not triple-negative, which the early-relapse card is written for.

    "It came back 6 months after she finished tamoxifen": after endocrine therapy, or stated hormone-receptor
    positive, it is endocrine resistance. "HER2+ relapse within 6 months of adjuvant T-DM1": treated as second
    line, which the HER2-positive later-lines card covers.
    """
    if decision.entity != EARLY_RELAPSE:
        return None
    stated = {**reading.suggested, **reading.sets}
    if not SUBTYPE_KEYS.intersection(stated) and not any(c.kind in ENTITY_KINDS and c.id not in HISTORY_CLASSES
                                                         for c in reading.concepts) and not TNBC_HISTORY.intersection(reading.words):
        # "it came back 8 months after I finished chemo, does that mean it's resistant?": no subtype named,
        # so the card that sets out what the timing means for each
        card = lookup(knowledge, EARLY_RELAPSE_ANY, decision.aspect or "what")
        return replace(decision, units=(card,), entity=EARLY_RELAPSE_ANY, by_card=True) if card is not None else None
    if stated.get("her2") == "positive":
        entity, aspect, aspects = HER2_LATER, "after_progression", ("after_progression",)
    else:
        endocrine = {c.id for c in reading.concepts if c.kind in ENTITY_KINDS and _endocrine(c)}
        other_drug = any(c.kind == "drug" and c.id not in endocrine for c in reading.concepts)
        if other_drug or (not endocrine and stated.get("hr") != "positive"):  # "is inavolisib for early relapse?"
            return None
        entity, aspect, aspects = ENDOCRINE_RESISTANCE, decision.aspect, (decision.aspect or "", "first_line")
    card = next((knowledge.units[(entity, a)] for a in aspects if (entity, a) in knowledge.units), None)
    if card is None:
        return None
    return replace(decision, units=(card,), entity=entity, aspect=aspect, by_card=False)


def _later_lines_by_subtype(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Wife has done letrozole, palbociclib, fulvestrant and now capecitabine: what's after that?": several
    treatments named in a question about what comes next, where no one drug's card is asked about, are the
    history; the subtype's later-lines card answers (rather than a choice among the drugs' cards).
    """
    if (decision.resolved or decision.aspect not in (None, AFTER_PROGRESSION)
            or decision.likelihood(AFTER_PROGRESSION) < NEXT_LINE_LIKELY):
        return None
    named = {c.id for c in reading.concepts if c.kind in ENTITY_KINDS}
    if len(named) < 2:
        return None
    stated = {**reading.suggested, **reading.sets}
    if stated.get("her2") == "positive":
        entity = HER2_LATER
    elif stated.get("hr") == "negative":
        entity = TNBC_LATER
    elif stated.get("hr") == "positive":
        entity = HR_POSITIVE_LATER
    else:
        return None
    card = lookup(knowledge, entity, AFTER_PROGRESSION)
    if card is None:
        return None
    return replace(decision, units=(card,), entity=entity, aspect=AFTER_PROGRESSION, by_card=False)


def _young_and_hormone_positive(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"I'm 38 and ER+, it's spread to my liver: is the treatment different because I'm young?": whether a young
    woman's treatment differs is the first-line card's (ovarian suppression before menopause), not the site's.
    """
    stated = {**reading.suggested, **reading.sets}
    if stated.get("hr") != "positive" or stated.get("her2") == "positive" or stated.get("line", "first") != "first":
        return None
    if decision.entity is not None and decision.entity.split(":", 1)[0] in ("drug", "class"):
        return None
    words = reading.words
    young = any(w in YOUNG_WORDS for w in words) or stated.get("menopause") == "pre" or any(
        w.isdigit() and 18 <= int(w) <= 49 and i > 0 and words[i - 1] in AGE_LEADS for i, w in enumerate(words))
    compared = bool(COMPARING_WORDS.intersection(words))
    return _first_line_instead(knowledge, decision) if young and compared else None


def _first_line_after_adjuvant(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"1L HR+/HER2-, adj tamoxifen finished 3y ago": the first line for metastatic disease is asked; the drug
    named after "adjuvant" was the early cancer's treatment, its history."""
    if reading.sets.get("line") != "first" or reading.sets.get("hr") == "negative" or reading.sets.get("her2") == "positive":
        return None
    if any(c.id == CDK46 or CDK46 in c.implies for c in reading.concepts):
        return None  # "relapse on adjuvant abemaciclib": whether to give a CDK4/6 inhibitor again is the question
    tagged = reading.tagged
    if not any(w in ADJUVANT_WORDS and any(t in ("<drug>", "<class>") for t in tagged[i + 1:i + 3])
               and (i == 0 or tagged[i - 1] not in DURING_WORDS) for i, w in enumerate(tagged)):
        return None  # ("relapse on adjuvant letrozole" is endocrine resistance, another card's)
    return _first_line_instead(knowledge, decision)


def _her2_low_explained(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Her HER2 is zero but they said 'ultralow' and Enhertu, what does that mean?": the result is what is asked
    about, the HER2-low and ultralow card's; the drug it opens is the scene."""
    level = reading.sets.get("her2")
    words = reading.words
    if level not in LOW_LEVELS or not (MEANING_WORDS.intersection(words) or ("how" in words and "work" in words)):
        return None
    if ELIGIBLE_WORDS.intersection(words) or any(
            w in MEANING_WORDS and ("for" in words[i + 1:i + 3] or "get" in words[i + 1:i + 4]) for i, w in enumerate(words)):
        return None  # "does that mean I get Enhertu?", "what does it mean for T-DXd eligibility?": the drug's question
    card = lookup(knowledge, f"slot:her2={level}", "what")
    if card is None or decision.units == (card,):
        return None
    return replace(decision, units=(card,), entity=f"slot:her2={level}", aspect="what", probability=1.0)


def _dental_on_bone_drug(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Is it safe to have a tooth pulled on Xgeva?", "extraction on q4w zoledronate: drug holiday?": dental work
    on a bone-strengthening drug is the dental card's; the drug is the scene. Not a checklist that also asks
    about calcium ("pre-denosumab: dental, Ca, vit D?"), which the calcium card sets out whole."""
    ids = {c.id for c in reading.concepts}
    if DENTAL_WORK not in ids or CALCIUM_TERM in ids or CALCIUM_WORDS.intersection(reading.words):
        return None
    if SCHEDULE_WORDS.intersection(reading.words):
        return None  # "dental prerequisites & de-escalation after 2y?": the schedule is the bone card's too
    if not any(c.id == BONE_AGENTS or BONE_AGENTS in c.implies for c in reading.concepts):
        return None
    card = lookup(knowledge, DENTAL_WORK, HOW_GIVEN)
    if card is None or decision.units == (card,):
        return None
    # (asked as how dental care goes around the drug: not the drug's side effects, where a match on the
    # drug's own card would win)
    return replace(decision, units=(card,), entity=DENTAL_WORK, aspect=HOW_GIVEN, probability=1.0)


def _gene_for_family(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"My BRCA2 came back positive, what does that mean for my daughters?": what an inherited result means for
    relatives (the chance each child has it, testing them) is the testing card's, not what BRCA is."""
    words = reading.words
    if not any(c.id == BRCA for c in reading.concepts) or not RELATIVES.intersection(words):
        return None
    if not any(w.startswith("brca") for w in words) or HEREDITY_ASKED.intersection(words):
        return None  # "is it hereditary? worried about my daughters": whether cancer runs in families, the BRCA card's
    if any(c.kind in ENTITY_KINDS for c in reading.concepts):
        return None  # "my sister had olaparib for her BRCA": the drug is asked about
    card = lookup(knowledge, BRCA, TESTING)
    if card is None or decision.units == (card,):
        return None
    return replace(decision, units=(card,), entity=BRCA, aspect=TESTING, probability=1.0)


def _survival_by_subtype(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Median OS by subtype?", "median OS for HR+ in the CDK4/6 era vs HER2+ vs TNBC?": survival across the
    subtypes is the outlook card's (the cohort figures by subtype), not one drug's trials or what subtypes are.
    Not when one trial, drug or regimen is asked about (a class named as the era is only the scene)."""
    words = reading.words
    if not any(c.id in SURVIVAL_TERMS for c in reading.concepts):
        return None
    subtypes = {c.id for c in reading.concepts if c.id in SUBTYPE_MARKERS}
    by_subtype = SUBTYPE_TERM in subtypes or len(subtypes) >= 2 or "subtype" in words or "subtypes" in words
    if not by_subtype or any(c.kind == "drug" or c.id.endswith("_trial") for c in reading.concepts):
        return None
    if any(c.kind == "class" for c in reading.concepts) and "era" not in words:
        return None  # "which CDK4/6i given the OS data?" chooses among a class
    if any(w in TRIAL_NAMES for w in words):
        return None
    card = lookup(knowledge, PROGNOSIS, OUTLOOK)
    if card is None or (decision.units == (card,) and decision.by_card):
        return None
    return replace(decision, units=(card,), entity=PROGNOSIS, aspect=OUTLOOK, by_card=True)


def _maintenance_asked(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"My chemo is finished but the Herceptin carries on: what is maintenance?", "HER2+ maintenance after THP,
    when to drop the taxane?": the phase of treatment is asked, not the drug that goes on in it. Not when the
    maintenance is the scene ("PD on HP maintenance", "on maintenance for 5 years") or its dose is asked
    ("loading and maintenance doses"), and not when a trial or another topic was named."""
    words = reading.words
    at = [i for i, w in enumerate(words) if w.startswith(MAINTENANCE_STEMS)]
    if not at or not any(c.id == MAINTENANCE for c in reading.concepts):
        return None
    if any(w in MAINTENANCE_SCENE for i in at for w in words[max(0, i - 3):i]) or LOADING.intersection(words):
        return None
    if any(c.id in MAINTENANCE_ELSEWHERE for c in reading.concepts):
        return None
    if decision.entity is not None and decision.entity.split(":", 1)[0] not in ENTITY_KINDS:
        return None
    card = lookup(knowledge, MAINTENANCE, "what")
    if card is None or decision.units == (card,) or decision.aspect not in (None, *knowledge.topics[card].aspects):
        return None  # (and "HP maintenance: how bad is the pertuzumab diarrhoea?" asks about a side effect)
    return replace(decision, units=(card,), entity=MAINTENANCE, aspect=decision.aspect or "what")


def _her2_stopped_at_growth(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Will they stop the Herceptin now that the cancer has grown?": stopping at progression is what comes
    next, the HER2-positive later-lines card's, not stopping in a long remission."""
    if decision.entity != HER2_STOPPING or not (any(c.id == PROGRESSION for c in reading.concepts)
                                                or GROWTH_WORDS.intersection(reading.words)):
        return None
    card = lookup(knowledge, HER2_LATER, "after_progression")
    return replace(decision, units=(card,), entity=HER2_LATER, aspect="after_progression") if card is not None else None


def _local_or_only_drugs(knowledge: Knowledge, reading: Reading, decision: Decision) -> Decision | None:
    """"Is surgery ever an option for stage 4, or is it only drugs?", "will they do radiotherapy or is it just the
    tablets?": local treatment set against drugs asks where surgery and radiotherapy fit, the local-therapy card's,
    whatever the subtype (which no first-line choice needs here)."""
    words = reading.words
    if not any(c.id in LOCAL_TREATMENT_TERMS for c in reading.concepts) or any(c.kind == "drug" for c in reading.concepts):
        return None
    if decision.entity is not None and is_site(knowledge, decision.entity):
        return None  # "spread to my spine: radiotherapy or just the tablets?": the site's card has its local treatment
    if not any(w in ONLY_WORDS and words[i + 1:i + 3] and set(words[i + 1:i + 3]) & DRUG_WORDS for i, w in enumerate(words)):
        return None
    overview = knowledge.aspects[LOCAL_TREATMENT].overview if LOCAL_TREATMENT in knowledge.aspects else None
    if overview is None or overview not in knowledge.topics or decision.units == (overview,):
        return None
    return replace(decision, units=(overview,), entity=None, aspect=LOCAL_TREATMENT, probability=1.0, by_card=True)


def _first_line_instead(knowledge: Knowledge, decision: Decision) -> Decision | None:
    """The first-line card in place of the decision, chosen by card: the overview chosen for the first line
    stands against an example match on another aspect (None when there is no such card or it is already chosen)."""
    card = _first_line_card(knowledge)
    if card is None or decision.units == (card,):
        return None
    return replace(decision, units=(card,), entity=None, aspect="first_line", by_card=True)


def _endocrine(concept: Concept) -> bool:
    """Whether a drug or class is endocrine therapy of a kind ENDOCRINE_KINDS names (tamoxifen, an AI, a SERD)."""
    return concept.id in ENDOCRINE_KINDS or bool(ENDOCRINE_KINDS.intersection(concept.implies))


def _means_for_treatment(words: tuple[str, ...]) -> bool:
    """"what does this mean for my treatment", "what it means for her options"."""
    return any(w in ("mean", "means") and TREATMENT_OBJECTS.intersection(words[i + 1:i + 5]) for i, w in enumerate(words))


def _first_line_card(knowledge: Knowledge) -> str | None:
    """The first-line aspect's overview card (the one that branches on the subtype)."""
    return knowledge.aspects["first_line"].overview if "first_line" in knowledge.aspects else None


def _route(knowledge: Knowledge, reading: Reading, context: Context, closing: ClosingQuestion | None) -> Decision:
    """Decide which units answer a message (an unresolved decision when none does).

    A leading term named only in a closing question after statements is what is asked, and the question
    alone says which aspect ("the palliative team want me on morphine. won't I get addicted?").
    """
    model = knowledge.aspect_model
    if model is None or not knowledge.units:
        return Decision()
    past = _history(reading)  # the drugs named as history, read once
    spread_on = _spread_despite(knowledge, reading)
    past |= spread_on
    dated = _dated_by_trial(knowledge, reading)
    found = [c for c in _trial_first(knowledge, reading, _entities(knowledge, reading, past))
             if not _only_at(reading, c.id, dated)]
    if _bearing_a_drug(reading.tagged) or (SIDE_EFFECTS_TERM in reading.tagged and _names_now(reading, past, ("drug",))):
        # "can't cope with the letrozole", "side effects of ibrance? mum is scared of losing her hair": the drug's
        # side effects, not a low mood
        found = [c for c in found if c.id not in FEELINGS]
    if SUBTYPE_SLOTS.intersection(reading.sets):
        # "triple negative that has spread: is it always chemo?" asks the subtype's first treatment
        found = [c for c in found if c.id != CHEMO_FOR_EVERYONE]
    if (reading.tagged and reading.tagged[-1] == PHONE_NUMBERS and reading.words[-1] in ("number", "numbers")
            and any(c.id == PHONE_NUMBERS for c in found)):
        # "NZ pt travelling: local emergency number?": the number asked for at the end, the trip is the scene
        found = _to_front(found, PHONE_NUMBERS)
    lead = _asked_lead(knowledge, found, closing.new) if closing is not None else None
    if lead is not None:
        found = _to_front(found, lead)
    # (what the closing question asks is read from it alone)
    raw = model.guess((closing.reading if lead is not None and closing is not None else reading).tagged, limit=len(model.labels))
    if (SUBTYPE_SLOTS.intersection(reading.sets) and raw and raw[0].aspect in LINE_ASPECTS
            and raw[0].probability >= FEELING_GIVES_WAY):
        # "stage 4, hormone positive her2 negative: the usual first treatment? I'm terrified": the fear is
        # why it is asked; the subtype and the treatment asked are what it asks
        found = [c for c in found if c.id not in FEELINGS]
    if _feeling_after_question(knowledge, reading):
        # "why do they check my CA 15-3 every month? it went up and I'm panicking": the feeling follows the
        # question about a concept with a card of its own
        found = [c for c in found if c.id not in FEELINGS]
    if (found and all(c.id in DRUG_RIDERS for c in found) and context.entity
            and context.entity.split(":", 1)[0] in ENTITY_KINDS and KIND_PRONOUNS.intersection(reading.words)):
        # "side effects of Kisqali" then "can she take it with grapefruit?": the food rides on the drug
        # the last answer was about
        found = []
    if RESPONSE_WORDS.intersection(reading.words) and any(c.id == MONITORING for c in found):
        # "restaging interval on 1L ET + CDK4/6i?": how response is checked; the treatment is the scene
        found = [c for c in found if c.kind not in ENTITY_KINDS]
    named = [c for c in found if _specific(knowledge, c.id)]
    guesses = _defining(raw, reading, model.hints)
    if guesses is raw:  # a question about a word's meaning is settled before the words it names signal anything
        guesses = _lined(knowledge, _situated(_hinted(raw, reading, model.hints), reading), reading, model.hints)
    if ("mutation" in reading.sets and guesses and PREVALENCE_WORDS.intersection(reading.words)
            and not TEST_WORDS.intersection(reading.words) and not _names_now(reading, past, ("drug",))):
        # "ESR1m prevalence at dx vs after AI?": how common the change is, on the biomarker's card
        guesses = [Guess("what", 1.0)]
    if guesses and SELECTIVITY.intersection(reading.words) and "<drug>" in reading.tagged:
        # "tucatinib: how HER2-selective vs lapatinib?": what the drug is (its target), not its trials
        guesses = [Guess("what", 1.0)]
    if (guesses and PROGRESSION in reading.tagged and "next" in reading.words and "<drug>" in reading.tagged
            and guesses[0].aspect == "how_given"):
        # "faslodex isn't working any more, what next? she doesn't want chemo on a drip": what comes after it
        guesses = [Guess(AFTER_PROGRESSION, max(guesses[0].probability, CLEAR_MIN))]
    if spread_on and guesses and NEXT_WORDS.intersection(reading.tagged):
        # "spread to his liver even on tamoxifen: what are the options now?" asks what comes next
        guesses = [Guess(AFTER_PROGRESSION, max(guesses[0].probability, CLEAR_MIN))]
    # (not in a story of the disease growing: "liver numbers up, the scan says progression, what now?")
    if named and named[0].kind in ENTITY_KINDS and PROGRESSION not in reading.tagged and _harm_asked(reading):
        guesses = [Guess(SIDE_EFFECTS, 1.0)]  # "could Kisqali harm my liver?", as a named symptom settles it
    if (named and named[0].kind in ENTITY_KINDS and WARNING_SIGNS in reading.tagged
            and _names_now(reading, past, ENTITY_KINDS)):
        # "which signs mean I should go to A&E on Enhertu?": the drug's side-effect card lists when to call
        guesses = [Guess(SIDE_EFFECTS, 1.0)]
    if (MONITORING in reading.tagged and not RESPONSE_WORDS.intersection(reading.words)
            and not (guesses and guesses[0].aspect == "how_given")  # "alpelisib dose + glucose monitoring"
            and _names_now(reading, past, ("drug",))):
        # "T-DM1 monitoring essentials": the drug's safety checks are on its side-effect card
        guesses = [Guess(SIDE_EFFECTS, 1.0)]
    if named and named[0].kind not in ENTITY_KINDS and (_asks_kind(reading.tagged) or _asks_working(reading.tagged)):
        # "is Enhertu a type of Herceptin? my husband (men get it too)": the drug asked about, not the situation
        named, found = _drug_first(named, found, next((c for c in named if c.kind == "drug"), None))
    if (named and named[0].kind not in ENTITY_KINDS and WARNING_SIGNS in reading.tagged and guesses
            and guesses[0].aspect == SIDE_EFFECTS and _names_now(reading, past, ("drug",))):
        # "tucatinib hepatotoxicity: LFT monitoring and warning signs?": the drug's side-effect card lists them
        named, found = _drug_first(named, found, next((c for n, c in enumerate(reading.concepts)
                                                        if c.kind == "drug" and n not in past), None))
    if (named and named[0].kind in ENTITY_KINDS and SIDE_EFFECTS_TERM in reading.tagged and guesses
            and guesses[0].aspect == AFTER_PROGRESSION and _names_now(reading, past, ENTITY_KINDS)):
        # "they suggested Afinitor and Aromasin after Ibrance stopped working: what side effects?": of the drugs suggested
        guesses = [Guess(SIDE_EFFECTS, 1.0)]
    if (named and named[0].kind in ENTITY_KINDS and guesses and guesses[0].aspect == "how_given"
            and _holds_before_dose(reading.words)
            and any(c.kind == "term" and model.hints.get(c.id) == SIDE_EFFECTS for c in reading.concepts)):
        # "CDK4/6i G2 diarrhoea: loperamide and hold, or dose reduce?": managing a side effect, whose card gives
        # the holds and reductions, not how the drug is given
        guesses = [Guess(SIDE_EFFECTS, 1.0)]
    if (named and named[0].kind not in ENTITY_KINDS and MISSED_DOSE in reading.tagged
            and any(g.aspect == "how_given" and g.probability >= SECOND_ASPECT_MIN for g in guesses[:2])
            and any(c.kind == "drug" for c in named)):
        # "threw up 20 minutes after my Ibrance, take another?": the drug's rule, not the sickness's card
        # (however much "threw up" leans to side effects)
        named, found = _drug_first(named, found, next((c for c in named if c.kind == "drug"), None))
        guesses = [Guess("how_given", 1.0)]
    if named and named[0].kind in ENTITY_KINDS:
        target = _switched_to(reading)
        if target is not None and any(c.id == target for c in named):
            # "can I switch from the Herceptin and Perjeta drips to the Phesgo injection?": the drug switched to
            named, found = _to_front(named, target), _to_front(found, target)
        getting = bool(guesses) and _means_getting(reading.words)
        if getting:
            # "ESR1 after AI+palbo; does that mean she should get elacestrant?": the drug named last is the one asked
            last = next((c for c in reversed(reading.concepts) if c.kind == "drug"), None)
            if last is not None and last.id != named[0].id and any(c.id == last.id for c in named):
                named, found = _to_front(named, last.id), _to_front(found, last.id)
        sought = _drug_sought(reading)
        if sought is not None and sought != named[0].id and any(c.id == sought for c in named):
            # "a pt with ESR1m after AI+palbo: a candidate for elacestrant?": the drug someone is a candidate for
            named, found = _to_front(named, sought), _to_front(found, sought)
        if guesses and _asks_kind(reading.tagged):
            guesses = [Guess("what", 1.0)]  # "is Herceptin chemo? I get it with docetaxel": what kind of drug it is
        if MECHANISM_WORDS.intersection(reading.words):
            guesses = [Guess("what", 1.0)]  # "zoledronic acid vs denosumab, mechanistically?": how each works
        if guesses and (_asks_action(reading.tagged) or _asks_working(reading.tagged)):
            guesses = [Guess("what", 1.0)]  # "what does Herceptin actually do to the cancer cells?": how it works
        if guesses and _asks_form(reading.tagged):
            guesses = [Guess("how_given", 1.0)]  # "the onc suggested tukysa. is that a tablet?": how it is given
        if guesses and _asks_experience(reading.tagged):
            guesses = [Guess(SIDE_EFFECTS, 1.0)]  # "next chemo is eribulin, what is that like?": how it feels to have it
        if guesses and guesses[0].aspect == "what" and _asks_place(reading.tagged):
            guesses = [Guess("where_fits", 1.0)]  # "lapatinib-cape: still a role?": where it fits now, not what it is
        if guesses and (getting or _asks_use(reading.tagged) or _asks_to_have(reading.tagged) or _asks_reasonable(reading.tagged)
                        or _asks_need(reading.tagged)):
            # who the drug is for, not what it is: "what is Datroway for?", "the hormone pills stopped working,
            # can she have Enhertu?", "HER2-low and hormone positive, does that mean I get Enhertu straight away?"
            guesses = [Guess("where_fits", max(guesses[0].probability, ASPECT_MIN))]
    if (named and named[0].kind == "drug" and guesses and "instead" in reading.words
            and any(reading.tagged[i:i + 3] == ("<drug>", "with", "<drug>") for i in range(len(reading.tagged)))):
        # "everolimus with fulvestrant instead of exemestane, is that a thing?": a partner asked, who it is for
        guesses = [Guess("where_fits", max(guesses[0].probability, ASPECT_MIN))]
    if named and named[0].kind in ENTITY_KINDS:
        guesses = _as_evidence(guesses)  # "ribociclib vs palbociclib survival" asks for the trials' figures
    if (named and named[0].kind in ENTITY_KINDS and guesses and guesses[0].aspect not in TRIAL_OTHER_ASPECTS
            and not NOT_RESULT_WORDS.intersection(reading.words)
            and any(trial_drugs(knowledge).get(w) == named[0].id for w in reading.words)):
        # "ESR1m on ctDNA during 1L AI+CDK, switch now? SERENA-6": the trial named is its result asked
        guesses = _trial_result_asked(reading, max(guesses[0].probability, ASPECT_MIN))
    if named and named[0].kind in ENTITY_KINDS and _names_trial(reading, guesses):
        # "VERITAC-2 headline numbers", "CLEOPATRA: what did pertuzumab add?": a trial named is its result asked
        guesses = _trial_result_asked(reading, max(guesses[0].probability if guesses else 0.0, CLEAR_MIN))
    if (guesses and guesses[0].aspect == TRIALS and not JOINING_TRIAL_WORDS.intersection(reading.words)
            and EVIDENCE_TRIAL_WORDS.intersection(reading.words)
            and (any(c.kind in ENTITY_KINDS for c in named) or RESULT_SLOTS.intersection(reading.sets))):
        # "HER2-ultralow: definition and trial", "which trial got imlunestrant approved": the evidence, not joining one
        guesses = _as_evidence(guesses, TRIALS)
    top = guesses[0] if guesses else None
    # (a drug named is what would be stopped: "can I just stop the Kisqali" is about Kisqali)
    if IF_STOPPED in reading.tagged and STOPPING in knowledge.aspects and not any(c.kind == "drug" for c in reading.concepts):
        # "worn out by it all: what would happen if I stopped treatment?" asks what stopping means; the
        # tiredness is why it is asked (a card that answers anything about tiredness would take it)
        overview = knowledge.aspects[STOPPING].overview
        if overview in knowledge.topics:
            return Decision((overview,), IF_STOPPED, STOPPING, 1.0, False, tuple(guesses))
    hinted = any(w in model.hints for w in reading.tagged)
    compares = _compares(knowledge, reading)
    if top is not None and top.aspect == TESTING and _treatments_weighed(reading):
        # "1L mTNBC, gBRCA+, PD-L1 neg: PARPi upfront or platinum?": the results are the scene, the treatments asked
        guesses = [Guess("where_fits", max(top.probability, ASPECT_MIN))]
        top = guesses[0]
    if (compares and top is not None and top.aspect == "what" and top.probability < CLEAR_WHAT
            and VERSUS.intersection(reading.words) and sum(w == "<drug>" for w in reading.tagged) == 2
            and not DEFINING.intersection(reading.words) and not _asks_kind(reading.tagged)
            and not (DIFFERENCE_WORDS | MECHANISM_WORDS | WHAT_CONTRASTS).intersection(reading.words)
            and MECHANISM not in reading.tagged):
        # "bone-dominant MBC: denosumab vs ZA?": two drugs set against each other ask how they compare,
        # not what each is
        guesses = [Guess(EVIDENCE, 1.0)]
        top = guesses[0]
    if compares and top is not None and (top.aspect == "what" or PICKING.intersection(reading.words)) and CHOOSING.intersection(reading.words):
        # "what's the best CDK4/6 first line, Kisqali or Ibrance?" asks which is better: the trials' figures
        guesses = [Guess(EVIDENCE, 1.0)]
        top = guesses[0]
    if compares and top is not None and CHOOSING.intersection(reading.words) and top.aspect in CHOOSING_ASPECTS:
        chosen = _class_choice(knowledge, named, EVIDENCE)
        if chosen is not None:  # "is Kisqali better than Ibrance?": the card that weighs the class's trials side by side
            return Decision((chosen[1],), chosen[0], EVIDENCE, max(top.probability, CLEAR_MIN), False, tuple(guesses))
    if compares and top is not None and _asks_class_difference(reading, top):
        # "tox differences" alone is the class's side-effect card; with survival asked too, the card that weighs both
        asked = SIDE_EFFECTS if top.aspect == SIDE_EFFECTS and _likelihood(guesses, EVIDENCE) < SECOND_ASPECT_MIN else EVIDENCE
        chosen = _class_choice(knowledge, named, asked)
        if chosen is not None:  # "what's the difference between Kisqali and Verzenio?": the card that weighs the class
            return Decision((chosen[1],), chosen[0], asked, max(top.probability, CLEAR_MIN), False, tuple(guesses))
    carried = False
    entities = [c.id for c in named]
    short = len(reading.words) <= FOLLOW_UP_WORDS
    likely = [g for g in guesses if g.probability >= MASS_MIN]
    if (not found and context.entity and likely and short and not reading.sets and _leans_back(reading)
            and (context.entity.split(":", 1)[0] in ENTITY_KINDS or not hinted)):
        entities, carried = [context.entity], True  # "and the side effects?"
    elif entities and context.aspect and short and not reading.loose and (not likely or _opens_follow_up(reading)) and not hinted:
        likely, carried = [Guess(context.aspect, 1.0)], True  # "what about Kisqali?" (not "what about its side effects?")
    # "ESR1 on ctDNA, 2L?": a later line stated, with nothing clearly asked, asks what comes next
    fallback = AFTER_PROGRESSION if reading.sets.get("line") in LATER_LINES else None
    unresolved = Decision(aspect=top.aspect if _clear(guesses) else fallback,
                          probability=top.probability if top else 0.0, guesses=tuple(guesses))
    scene = _grew_in_organ(knowledge, reading, past, entities)
    if (entities and not carried and TRIALS_TERM in (c.id for c in reading.concepts) and TRIALS in knowledge.aspects
            and PROGRESSION in reading.tagged and _only_history(knowledge, reading, past, entities[0])):
        # "eribulin didn't work either: are there trials for people who've had lots?" asks about trials
        overview = knowledge.aspects[TRIALS].overview
        if overview in knowledge.topics:
            return Decision((overview,), TRIALS_TERM, TRIALS, max(top.probability if top else 0.0, CLEAR_MIN), carried, tuple(guesses))
    if (entities and top is not None and not carried and (top.aspect in NEXT_STEP_ASPECTS or top.aspect == AFTER_PROGRESSION)
            and (scene or _only_history(knowledge, reading, past, entities[0]))):
        sure = max(top.probability, HISTORY_SURE)  # the message's shape says what is asked, not its words
        own = (lookup(knowledge, entities[0], top.aspect)
               if top.aspect == AFTER_PROGRESSION and not scene and _declares(knowledge, entities[0], top.aspect) else None)
        if own is not None and knowledge.topics[own].applies_to(reading.sets):
            # "letrozole and Ibrance have stopped working, what now?": the later-lines card written for them
            # (not when the subtype stated is another: "HR+/HER2-0 post SG" is not triple negative)
            return Decision((own,), entities[0], top.aspect, sure, carried, tuple(guesses))
        # "triple negative, got worse after chemo plus Keytruda, what now?": what comes next, not what Keytruda is
        # (the subtype's later-lines card when the subtype is stated: "HR+ HER2-low after one line of chemo")
        regimen = _regimen_for(knowledge, AFTER_PROGRESSION, reading)
        return replace(unresolved, units=(regimen,) if regimen else (), aspect=AFTER_PROGRESSION, probability=sure)
    coping = any(e in FEELINGS for e in entities) and (bool(COPING.intersection(reading.words)) or (
        # "I can't stop crying since the scan results, is this normal?": the feeling is what is asked about
        "normal" in reading.words and not any(e.split(":", 1)[0] in ENTITY_KINDS for e in entities)))
    asked_as = None if carried else _asked_whether(reading, entities)  # put first below, after the other reorderings
    if coping and asked_as is None and not carried:
        # "she has months left: how do I cope with losing her?": how to cope is asked; the outlook is the scene
        entities = [e for e in entities if e in FEELINGS] + [e for e in entities if e not in FEELINGS]
    elif entities and top is not None and not carried and asked_as is None and _clear(guesses):
        entities = _feeling_as_scene(knowledge, entities, top)
        entities = _answering_first(knowledge, entities, found[0], top.aspect, reading)
    if (entities and not carried and top is not None and top.aspect == OUTLOOK and top.probability >= ASPECT_MIN
            and SURVIVAL in (c.id for c in reading.concepts) and not coping):
        overview = knowledge.aspects[OUTLOOK].overview if OUTLOOK in knowledge.aspects else None
        scene = entities[0] in FEELINGS or (is_site(knowledge, entities[0]) and not _declares(knowledge, entities[0], OUTLOOK))
        if scene and overview in knowledge.topics:
            # "how long do people live with it? I can't stop crying", "it's in her liver now, weeks left?":
            # how long is asked; the feeling or the site is the scene
            return Decision((overview,), SURVIVAL, OUTLOOK, top.probability, carried, tuple(guesses))
    if (entities and not carried and top is not None and top.aspect == LOCAL_TREATMENT and _clear(guesses)
            and SURGERY in reading.tagged and "breast" in reading.words and is_site(knowledge, entities[0])
            and _spread_site_only(reading, entities[0])):
        # "will they remove my breast now it has spread to my bones?": surgery of the breast, the bones are where it spread
        overview = knowledge.aspects[LOCAL_TREATMENT].overview
        if overview in knowledge.topics:
            return Decision((overview,), SURGERY, LOCAL_TREATMENT, top.probability, carried, tuple(guesses))
    if (entities and not carried and entities[0] == SUBCUTANEOUS and top is not None and top.aspect == "how_given"):
        # "pembrolizumab dosing options incl. the SC formulation?": the drug's own dosing card names its SC form
        drug = next((e for e in entities[1:] if e.startswith("drug:") and (card := lookup(knowledge, e, "how_given"))
                     and SUBCUTANEOUS in mentions(knowledge, card)), None)
        if drug is not None:
            entities = [drug] + [e for e in entities if e != drug]
    if entities and not carried:
        entities = _covering_first(knowledge, reading, entities)
    if entities and not carried:
        # ("tingling in my feet from paclitaxel: anything that helps, or does it go away on its own?": easing a
        # symptom is asked, whatever aspect the classifier guessed; "hot flushes since starting Zoladex, any tips?":
        # how it is given only when the classifier does not also hear side effects)
        easing = top is not None and (top.aspect == SIDE_EFFECTS or (top.aspect != "how_given" and asks_to_manage(reading)) or (
            _likelihood(guesses, SIDE_EFFECTS) >= EASING_OVER_GIVEN and EASING_WORDS.intersection(reading.words)))
        entities = _symptom_first(knowledge, reading, entities, easing)
    if entities and not carried:
        entities = _living_first(knowledge, reading, entities)
    if (entities and not carried and top is not None and top.aspect == LOCAL_TREATMENT and _clear(guesses)
            and entities[0].startswith("drug:") and lookup(knowledge, entities[0], LOCAL_TREATMENT) is None):
        # "HER2+ brain mets: SRS first or systemic (tucatinib/T-DXd)?": local treatment is asked of the site,
        # the drugs are the alternative
        site = next((e for e in entities[1:] if _is_organ_site(knowledge, e)), None)
        if site is not None:
            entities = [site] + [e for e in entities if e != site]
    if (entities and not carried and top is not None and top.aspect == LOCAL_TREATMENT and _clear(guesses)
            and not is_site(knowledge, entities[0]) and entities[0].split(":", 1)[0] not in ENTITY_KINDS
            and not any(c.id in TREATMENT_TERMS for c in reading.concepts)  # "steroids for liver capsule pain": the steroids
            and entities[0] not in LOCAL_TREATMENT_TERMS):  # "will they remove my breast now it's in my bones?": the operation
        # "will radiotherapy help the pain in my hip?": local treatment is asked of the site, the symptom is why
        site = next((e for e in entities[1:] if _is_organ_site(knowledge, e)), None)
        if site is not None:
            entities = [site] + [e for e in entities if e != site]
    if asked_as is not None and asked_as in entities:
        # "can't sleep, nothing feels good any more: could this be depression?": the thing asked about,
        # whatever the other concepts' cards cover
        entities = [asked_as] + [e for e in entities if e != asked_as]
    if (entities and entities[0].startswith("slot:") and not carried and _asks_effect(reading)
            and not SUBTYPE_SLOTS.intersection(reading.sets) and not (top is not None and top.aspect == TESTING)):
        # "does having the BRCA gene change the first treatment?" asks what the result means for treatment: its card
        card = lookup(knowledge, entities[0], "where_fits")
        if card is not None:
            return Decision((card,), entities[0], "where_fits", top.probability if top else 0.0, carried, tuple(guesses))
    if guesses is not raw and not carried and defines_a_fact(knowledge, reading):
        glossary = _overview(knowledge, guesses, True, reading)
        if glossary is not None:
            return glossary  # "what does 2L mean in MBC trials?": the word, not the trials
    # "HER2 positive and it's in her liver: what's the usual first treatment?": the subtype and a first
    # line asked say what is wanted; the site is the scene
    # (or implied by the treatment had: "came back after 2 years on tamoxifen: what's the first thing they do?")
    first_for_subtype = (bool(SUBTYPE_SLOTS.intersection(reading.sets) or (past and SUBTYPE_SLOTS.intersection(reading.suggested)))
                         and not carried
                         and (top is None or top.aspect in NEXT_STEP_ASPECTS)  # not "is a trial an option in 1L HR+?"
                         and (FIRST_LINE_CUES.intersection(c.id for c in reading.concepts)
                              or (top is not None and top.aspect == "first_line" and top.probability >= CLEAR_MIN)
                              # "triple negative that has come back in the liver: what are the options now?" with
                              # nothing tried for it yet asks what is done first
                              or (OPTIONS in reading.tagged and not past and "line" not in reading.sets
                                  and PROGRESSION not in reading.tagged and (top is None or top.probability < CLEAR_MIN)))
                         # (a broad class is part of the question: "HR+ HER2-, first treatment: do I need chemo?")
                         and not any(c.kind in ENTITY_KINDS and _specific(knowledge, c.id)
                                     for n, c in enumerate(reading.concepts) if n not in past)
                         # "non-hormonal options for hot flushes in ER+ MBC?": a leading concept is what is asked about
                         and not any(c.leads and c.kind == "term" and not is_site(knowledge, c.id) and c.id not in TIMING_SCENES
                                     for c in found))
    first_card = knowledge.aspects["first_line"].overview if first_for_subtype and "first_line" in knowledge.aspects else None
    # (only where the scene is a site whose card says nothing of the first line: brain metastases
    # change the first treatment, a visceral crisis or an early relapse have cards of their own)
    scenes = (c.id for c in found if c.kind not in ENTITY_KINDS and c.id not in FIRST_LINE_CUES | TIMING_SCENES
              and c.id in knowledge.entity_units)
    if first_card in knowledge.topics and all(is_site(knowledge, e) and not lookup(knowledge, e, "first_line") for e in scenes):
        return replace(unresolved, units=(first_card,), aspect="first_line", probability=max(top.probability if top else 0.0, CLEAR_MIN),
                       by_card=True)  # (an example match may still know better, as for an aspect's overview)
    if (entities and not carried and (_is_organ_site(knowledge, entities[0]) or entities[0] in LINE_SCENES) and entities[0] not in TIMING_SCENES
            and SUBTYPE_SLOTS.intersection(reading.sets) and reading.sets.get("line") in LATER_LINES
            and (top is None or top.aspect in NEXT_STEP_ASPECTS or top.aspect == AFTER_PROGRESSION)
            and not _names_now(reading, past, ("drug",))):
        # "hormone positive, now in her liver after 3 lots of hormone treatment: chemo now?": the subtype
        # and a later line stated say what is asked; the site is the scene
        regimen = _regimen_for(knowledge, AFTER_PROGRESSION, reading)
        if regimen is not None:
            return replace(unresolved, units=(regimen,), aspect=AFTER_PROGRESSION,
                           probability=max(top.probability if top else 0.0, CLEAR_MIN))
    if entities:
        only = _only_unit(knowledge, entities[0], hinted)  # "management of malignant pleural effusion": the lung's card
        # a leading term's only card, when no drug is named, whatever the hesitant guess ("number for the
        # samaritans?"); a class is the situation ("scalp cooling with weekly taxane: does it work?")
        # (a drug named only as history leaves it leading: "came back 4 months after finishing Keytruda: Keytruda again?")
        leads = bool(found) and found[0].id == entities[0] and found[0].leads and not _names_now(reading, past, ("drug",))
        # (a symptom or concept with one card, asked something the classifier is unsure of: "can't sleep since the diagnosis")
        if only is not None and (not _clear(guesses) or (leads and top is not None and top.probability < ASPECT_MIN)) and (
            top is None or top.probability < CLEAR_MIN or top.aspect in knowledge.topics[only].aspects or leads
            or (entities[0].startswith("term:") and not any(c.kind in ENTITY_KINDS for c in found))
        ):
            return Decision((only,), entities[0], None, top.probability if top else 0.0, carried, tuple(guesses))
        overview_of = knowledge.aspects[top.aspect].overview if top is not None and top.aspect in knowledge.aspects else None
        if (only is not None and _clear(guesses) and len(knowledge.entity_units.get(entities[0], ())) == 1
                and lookup(knowledge, entities[0], top.aspect) is None
                and not (top.aspect in LINE_ASPECTS and SUBTYPE_SLOTS.intersection(reading.sets))
                and not (top.aspect not in LINE_ASPECTS and overview_of in knowledge.topics and bool(reading.concepts) and reading.concepts[0].id != entities[0])):
            # (but "are trials only for people who have run out of options?" asks about trials, named first: their overview)
            # ... but "triple negative, spread to the lungs: what do they start with?" asks for the subtype's first line
            # a concept with one card answers whatever is asked about it ("CBT-I first line for insomnia")
            return Decision((only,), entities[0], top.aspect, top.probability, carried, tuple(guesses), by_card=True)
    defined = guesses is not raw  # "what does 'progression' mean?" asks for a definition
    overview = None if carried else _overview(knowledge, guesses, defined, reading)
    # ("another hormone treatment after the first one failed, or chemo?": growth stated, what next asked)
    line = unresolved.aspect or (top.aspect if top is not None and (top.probability >= CLEAR_MIN or (
        top.aspect == AFTER_PROGRESSION and PROGRESSION in reading.tagged)) else None)
    history = {reading.concepts[n].id for n in past}
    # "HER2+ 3L after THP and T-DXd, stable brain mets": the subtype and line stated say what is asked; the site is the scene
    staged = bool(past) and bool(SUBTYPE_SLOTS.intersection(reading.sets)) and reading.sets.get("line") in LATER_LINES
    if (not carried and not any(e.startswith("drug:") and e not in history for e in entities)
            and not (entities and line and lookup(knowledge, entities[0], line) and not staged)):
        regimen = _regimen_for(knowledge, line, reading)
        if regimen is not None:
            # "HR+ HER2-low after one line of chemo": the one regimen card for the stated subtype and line
            return replace(unresolved, units=(regimen,))
    if not entities and reading.sets.get("menopause") == "pre" and not {"her2", "line"}.intersection(reading.sets) and reading.sets.get("hr", "positive") == "positive" and (
            top is None or top.aspect in PREMENOPAUSAL_ASPECTS):
        # "I'm 41 and still have periods: does that change the hormone tablets?": the card on treatment before menopause
        card = lookup(knowledge, OVARIAN_SUPPRESSION, "where_fits")
        if card is not None:
            return replace(unresolved, units=(card,), entity=OVARIAN_SUPPRESSION)
    if not entities:
        # "PS cutoff for further chemo?" names nothing, but clearly asks about stopping: its
        # overview topic, unless an example match knows better
        broad = _broad_side_effects(knowledge, found, top)
        if overview is None and broad is not None:
            # "I bruise easily on chemo": a symptom of a broad class, its side-effect card unless a match knows better
            return replace(unresolved, entity=broad[0], tentative=broad[1])
        return overview or unresolved
    if not likely:
        # "OlympiAD population": a drug named, nothing recognisable asked
        named = entities[0].split(":", 1)[0] in ENTITY_KINDS and not _past_treatment(reading)
        what = lookup(knowledge, entities[0], "what") if named else None
        return replace(unresolved, entity=entities[0], tentative=what)
    if (len(entities) > 1 and REGIMEN_WORDS.intersection(reading.words) and not compares
            and entities[0].split(":", 1)[0] in ENTITY_KINDS and _cytotoxic(knowledge, entities[0])
            and not _partner_on_card(knowledge, reading, entities[0], entities[1], top)):
        # "gem carbo regimen": a combination of chemotherapies is a regimen question, not one drug's card;
        # "Tukysa with Xeloda and Herceptin, when is that combo used?" is the targeted drug's, and
        # "ixabepilone - combo with capecitabine?" ixabepilone's, whose card is written for that pairing
        return unresolved
    if (top is not None and top.aspect == AFTER_PROGRESSION and not carried and not _declares(knowledge, entities[0], top.aspect)
            and _named_later(knowledge, reading, entities[0], past)):
        # "3L after CDK4/6i, capivasertib-fulvestrant and chemo; ADC options?": what comes next, not where
        # capivasertib fits (a drug's own card answers "what after" only when it is the last thing named)
        return unresolved
    asked = lookup(knowledge, entities[0], top.aspect) if top is not None else None  # the unit for the aspect asked
    if not carried and top is not None and asked is None and top.aspect in OVERVIEW_FIRST and _signalled(knowledge, reading, top.aspect):
        # "5L eribulin, PS2: when does more chemo stop making sense?" asks about stopping, which no unit of the drug answers
        overview_of = knowledge.aspects[top.aspect].overview
        if overview_of in knowledge.topics:
            return Decision((overview_of,), None, top.aspect, top.probability, carried, tuple(guesses))
    if asked is None and top is not None and top.aspect == TESTING and top.probability >= ASPECT_MIN and not carried:
        test = _test_for_drug(knowledge, reading, entities[0])
        if test is not None:  # "does Truqap need a special test first?": the test that selects for it
            return Decision((test,), entities[0], TESTING, top.probability, carried, tuple(guesses))
        fits = lookup(knowledge, entities[0], "where_fits") if entities[0].startswith("drug:") else None
        if fits is not None and BEFORE_WORDS.intersection(reading.words) and not MONITORING_TESTS.intersection(reading.tagged):
            # "does she need a TROP2 test before Trodelvy?": no test selects for it; its card says who it is for
            return Decision((fits,), entities[0], "where_fits", top.probability, carried, tuple(guesses))
    # Aspects whose units coincide add up: "who gets it, what was the trial" is where it fits and
    # its evidence, both answered by one unit.
    mass: dict[str, float] = {}
    first_aspect: dict[str, str] = {}
    for guess in likely:
        unit = lookup(knowledge, entities[0], guess.aspect)
        if unit is not None:
            mass[unit] = mass.get(unit, 0.0) + guess.probability
            first_aspect.setdefault(unit, guess.aspect)
    ranked = sorted(mass.items(), key=lambda item: -item[1])
    asks_two = _asks_two(reading) and len(ranked) > 1 and ranked[1][1] >= SECOND_ASPECT_MIN
    if overview is not None and (not ranked or asked is None) and entities[0].split(":", 1)[0] not in ENTITY_KINDS:
        return overview  # "ER+, spread to her bones: what do people get first?": the bones are the situation
    if not ranked:
        return unresolved
    if ranked[0][1] < ASPECT_MIN and not (asks_two and ranked[0][1] + ranked[1][1] >= TWO_PART_MIN):
        aspect = first_aspect[ranked[0][0]]
        if ((_past_treatment(reading) or past) and not carried and unresolved.aspect is None
                and aspect in NEXT_STEP_ASPECTS):
            # "the Ibrance stopped working, can they switch me to Kisqali?" asks what comes next
            return replace(unresolved, aspect=AFTER_PROGRESSION, probability=ASPECT_MIN)
        if carried or _past_treatment(reading) or (aspect == "what" and not WHAT_WORDS.intersection(reading.words)):
            # "3L after ET and capecitabine" asks what comes next; "her feet are sore on xeloda"
            # does not ask what Xeloda is
            return unresolved
        # "what is ibrance? my mum has just been given it with letrozole": the hesitant best guess
        return replace(unresolved, entity=entities[0], aspect=aspect, tentative=ranked[0][0])
    if not carried and top is not None and top.probability >= ASPECT_MIN and asked is None:
        return unresolved  # "DPYD genotyping before cape" asks about testing, which no unit of the drug answers
    best, probability = ranked[0]
    if asked in mass and asked != best and not carried and top is not None and top.probability >= ASPECT_MIN:
        # an aspect asked plainly ("zoladex - how is it given?") is not outvoted by two hesitant ones
        best, probability = asked, mass[asked]
    units = [best]
    if asks_two and not compares:
        # "what is Phesgo and how is it given?"; side effects named outright are the second part asked
        # ("is Orserdu a tablet, and what are the side effects?"), whatever the classifier ranked second
        named_effects = lookup(knowledge, entities[0], SIDE_EFFECTS) if EXPLICIT_SIDE_EFFECTS in reading.tagged else None
        units.append(named_effects if named_effects not in (None, best) else ranked[1][0])
    elif not carried and not compares:
        # "imlunestrant: drug class + oral or inj?": two aspects named one after the other
        listed = _listed_aspect_units(knowledge, reading, entities[0])
        second = next(((u, t) for u, t in listed.items() if u != best), None)
        if second is not None and best in listed and (second[1] == EXPLICIT_SIDE_EFFECTS or second[1] not in mentions(knowledge, best)):
            units.append(second[0])  # (not "margenza dose and LVEF holds": the dose card has the holds)
    if compares or (first_aspect[best] == "what" and not past and _two_drugs_joined(reading.tagged)):
        # "is Kisqali or Verzenio the one with ECGs?", "generic names for Orserdu and Itovebi?"; a partner drug
        # ("gemzar dosing with paclitaxel") is part of the first drug's answer, not a second question.
        for entity in entities[1:MAX_UNITS]:
            if entities[0].startswith("class:") and _member(knowledge, entity, entities[0]):
                continue  # "best CDK4/6, Verzenio or Kisqali?": the class's card compares its members
            other = lookup(knowledge, entity, first_aspect[best])
            if other is not None and other not in units:
                units.append(other)
    return Decision(tuple(units[:MAX_UNITS]), entities[0], first_aspect[best], probability, carried, tuple(guesses))


def _overview(knowledge: Knowledge, guesses: list[Guess], defined: bool, reading: Reading) -> Decision | None:
    """The aspect's overview topic, for a clear aspect when nothing it could be about is named.

    "What" has one only for a word to define ("what does 'progression' mean"), not for "tell me
    a joke" nor for "does that mean it is growing?", which asks what follows, not a definition.
    An example match may still know better (``by_card``).
    """
    top = guesses[0] if guesses else None
    # (a hesitant guess at a line of treatment that a term signalling it backs: "does everyone get chemo first?")
    if top is None or (top.probability < ASPECT_MIN and not (top.aspect in LINE_ASPECTS and _signalled(knowledge, reading, top.aspect))):
        return None
    words = reading.words
    implying = any(words[i : i + 3] in IMPLYING and (i == 0 or words[i - 1] != "what") for i in range(len(words)))
    if top.aspect == "what" and (not defined or implying):
        return None
    aspect = knowledge.aspects.get(top.aspect)
    if aspect is None or aspect.overview is None:
        return None
    return Decision((aspect.overview,), None, top.aspect, top.probability, False, tuple(guesses), by_card=True)


def _answering_first(knowledge: Knowledge, entities: list[str], first: Concept, aspect: str, reading: Reading) -> list[str]:
    """The entities, with a later one first when the first has no card for the aspect asked and it may
    give way: a leading term ("can my husband take his Tukysa with food?"), a class to the member drug
    named ("what's a PARP inhibitor? the onc mentioned lynparza"), anything to a biomarker's card about
    a test ("PD-L1 assay for pembro?")."""
    own = lookup(knowledge, entities[0], aspect)
    drug = (_drug_asked_of(knowledge, reading, entities[1:], aspect, own)
            if own is not None and first.leads and first.id == entities[0] else None)
    if drug is not None:
        # "tucatinib side effects? my dad has male breast cancer": the situation's card answers anything
        # about it, but side effects asked of a named drug are the drug's own card
        return [drug] + [e for e in entities if e != drug]
    if own is not None and not (aspect == TESTING and len(knowledge.topics[own].aspects) >= CATCH_ALL):
        return entities
    # a card that answers anything about its concept gives way to a test's own card ("should my kids
    # get tested if I have BRCA2?" asks about BRCA testing, not about talking to children)
    leading = first.leads and first.id == entities[0]
    answering = next((e for e in entities[1:]
                      if (leading or aspect == TESTING or _member(knowledge, e, entities[0]))
                      and lookup(knowledge, e, aspect) is not None), None)
    return entities if answering is None else [answering] + [e for e in entities if e != answering]


def _drug_asked_of(knowledge: Knowledge, reading: Reading, others: list[str], aspect: str, own: str) -> str | None:
    """The named drug whose own card answers while the leading concept's card is one that answers anything
    (a situation: men, pregnancy, body image): side effects asked of the drug ("side effects" in so many words,
    or a symptom its card covers), or where it fits when a term says so ("can Verzenio be taken on its own?
    my dad has male breast cancer")."""
    if len(knowledge.topics[own].aspects) < CATCH_ALL:
        return None
    cards = [(d, card) for d in others if d.startswith("drug:") and (card := lookup(knowledge, d, aspect)) is not None]
    if aspect == SIDE_EFFECTS:
        named = {c.id for c in reading.concepts}
        # "weight gain from letrozole": a symptom the drug's card covers
        return next((d for d, card in cards
                     if EXPLICIT_SIDE_EFFECTS in named or named & SIDE_EFFECT_TERMS & mentions(knowledge, card)), None)
    if aspect == "where_fits" and _signalled(knowledge, reading, aspect):
        return next((d for d, _ in cards), None)
    return None


def _names_now(reading: Reading, past: set[int], kinds: Container[str]) -> bool:
    """Whether the message names a concept of these kinds that is not history (not "after Kisqali")."""
    return any(c.kind in kinds for n, c in enumerate(reading.concepts) if n not in past)


def _member(knowledge: Knowledge, drug: str, cls: str) -> bool:
    """Whether a drug belongs to a class ("lynparza" to "a PARP inhibitor")."""
    concept = knowledge.lexicon.concept(drug)
    return concept is not None and cls in concept.implies


def _asks_class_difference(reading: Reading, top: Guess) -> bool:
    """Whether two drugs compared are asked how they differ, in a way their class's card answers: not which is
    better (each drug's evidence), not for a stated subtype, not their mechanism (each drug's own card)."""
    return (top.aspect in CLASS_DIFFERENCE_ASPECTS and not SUBTYPE_SLOTS.intersection(reading.sets)
            and bool(DIFFERENCE_WORDS.intersection(reading.words)) and not CHOOSING.intersection(reading.words)
            and MECHANISM not in reading.tagged and not MECHANISM_WORDS.intersection(reading.words))


def _likelihood(guesses: list[Guess], aspect: str) -> float:
    return next((g.probability for g in guesses if g.aspect == aspect), 0.0)


def _class_choice(knowledge: Knowledge, named: list[Concept], aspect: str) -> tuple[str, str] | None:
    """The class and its card for the aspect, when two or more drugs named share that class and it has one."""
    drugs = list(dict.fromkeys(c.id for c in named if c.kind == "drug"))
    if len(drugs) < 2:
        return None
    concepts = [knowledge.lexicon.concept(d) for d in drugs]
    shared = set.intersection(*(set(c.implies) if c is not None else set() for c in concepts))
    for cls in sorted(shared):
        card = lookup(knowledge, cls, aspect)
        if card is not None:
            return cls, card
    return None


def _cytotoxic(knowledge: Knowledge, entity: str) -> bool:
    """Whether a drug or class named first makes a combination a regimen question: a chemotherapy, or a
    class ("gem carbo regimen"), not a targeted drug ("Tukysa with Xeloda and Herceptin")."""
    concept = knowledge.lexicon.concept(entity)
    return concept is None or not concept.implies or CHEMOTHERAPY in concept.implies


def _past_treatment(reading: Reading) -> bool:
    """Whether the message states a line or names a drug as history ("after capecitabine", "progressed on")."""
    if "line" in reading.sets:
        return True
    first = next((i for i, w in enumerate(reading.tagged) if w in ("<drug>", "<class>")), len(reading.tagged))
    return bool(HISTORY_WORDS.intersection(reading.tagged[:first]))


def _clear(guesses: list[Guess]) -> bool:
    if not guesses:
        return False
    top, second = guesses[0].probability, guesses[1].probability if len(guesses) > 1 else 0.0
    return top >= ASPECT_MIN or (top >= CLEAR_MIN and top >= DOMINANCE * second)


def _defining(guesses: list[Guess], reading: Reading, hints: dict[str, str]) -> list[Guess]:
    """"What does 'progression' mean?" asks what a word means, whatever the word signals; so does
    "what is progression?", where the word would otherwise signal what comes after it."""
    tagged = reading.tagged
    opening = tagged[2:3] if tagged[:2] == ("what", "is") else tagged[1:2] if tagged[:1] == ("what",) else ()  # "whats" reads as "what"
    if guesses and opening and hints.get(opening[0]) in LINE_ASPECTS:
        return [Guess("what", 1.0)]
    if guesses and DEFINING.intersection(reading.words):
        return [Guess("what", 1.0)]  # "how is HER2-ultralow defined": a definition, whatever "how is" suggests
    if guesses and "why" in reading.words and NAMING.intersection(reading.words):
        return [Guess("what", 1.0)]  # "why do they call it triple negative?": what the name means
    words = reading.words
    if "<drug>" in tagged and SIDE_EFFECT_TERMS.intersection(tagged):
        # "Kadcyla, the blood test says my platelets are low: what does that mean?": the drug's side effect
        return [Guess(SIDE_EFFECTS, 1.0)] if guesses and MEANING_WORDS.intersection(words) else guesses
    if SCHEDULE_TERMS.intersection(tagged):
        return guesses  # "they said day 1 and day 8, I don't get what that means": the schedule, on the how-it-is-given card
    # "which symptoms mean we should ring?" asks what follows from them, not what a word means
    if not guesses or not any(w in MEANING_WORDS and not (i and words[i - 1] in INDICATING) and not _means_that(words, i)
                              and not _means_for(words, i) for i, w in enumerate(words)):
        return guesses
    if (words[:2] in (("what", "does"), ("what", "do")) and MEANING_WORDS.intersection(words[2:6])
            and any(c.kind != "slot" for c in reading.concepts)):
        return [Guess("what", 1.0)]  # "what does stage 4 actually mean?": a meaning asked in so many words
    if "line" in reading.sets and "<drug>" not in tagged and _points_back_to_mean(words):
        return [Guess("what", 1.0)]  # "people keep saying 'first line', 'second line'... what do they mean?"
    what = next((g for g in guesses if g.aspect == "what"), None)
    if what is None or what.probability < MASS_MIN:
        return guesses
    return [Guess("what", 1.0)]  # settled, as a named symptom settles side effects


def _points_back_to_mean(words: tuple[str, ...]) -> bool:
    """Whether the message asks "what do they / does that mean", after the words it points back to."""
    return any(words[i] == "what" and words[i + 1] in ("do", "does") and words[i + 2] in POINTING_WORDS
               and words[i + 3] in MEANING_WORDS for i in range(1, len(words) - 3))


def _means_for(words: tuple[str, ...], i: int) -> bool:
    """Whether "mean" at ``i`` asks what follows for someone ("what does that actually mean for me?")."""
    return words[i + 1:i + 2] == ("for",) and i + 2 < len(words) and words[i + 2] in PERSONS


def _means_that(words: tuple[str, ...], i: int) -> bool:
    """Whether "mean" at ``i`` asks what follows from something ("is that normal? does it mean it's not
    working?"), not what a word or a finding means ("what does it mean that it's in the nodes?")."""
    j = i - 1 if i and words[i - 1] in MEAN_ADVERBS else i  # "does that automatically mean chemo?"
    return (2 <= j and i < len(words) - 1 and words[j - 1] in ("it", "that", "this") and words[j - 2] in ("does", "do", "did", "will", "would", "could")
            and (j < 3 or words[j - 3] != "what"))


def _partner_on_card(knowledge: Knowledge, reading: Reading, drug: str, partner: str, top: Guess | None) -> bool:
    """Whether a drug is asked about with a partner ("ixabepilone, combo with capecitabine?") that its card for
    the aspect asked names: its usual combination. A bare pair ("gem carbo") names a regimen."""
    tagged = reading.tagged
    drugs = [i for i, w in enumerate(tagged) if w == "<drug>"]
    if len(drugs) < 2 or tagged[drugs[1] - 1] not in ("with", "plus"):
        return False
    unit = lookup(knowledge, drug, top.aspect) if top is not None else None
    return unit is not None and partner in mentions(knowledge, unit)


def _asks_use(tagged: tuple[str, ...]) -> bool:
    """Whether "what is <drug> (used) for" asks what a drug is for: who gets it, not what it is."""
    for i, w in enumerate(tagged):
        # "what is Datroway for", "Datroway, what is that for?"
        # (or "what is the Zoladex injection for?": the drug's form named after it)
        j = i - 1 if tagged[i - 1:i] == ("the",) else i
        if w in USE_SUBJECTS and (tagged[max(0, j - 2):j] == ("what", "is") or tagged[max(0, j - 1):j] == ("whats",)):
            rest = tagged[i + 1:]
            if rest[:1] and rest[0] in DRUG_FORMS:
                rest = rest[1:]
            if rest[:2] in (("used", "for"), ("use", "for")):
                rest = rest[1:]
            # "what is estrogen therapy for breast cancer?" and "what is it?? for brca right" ask what it is
            after = rest[1] if len(rest) > 1 else ""
            if rest[:1] == ("for",) and after not in DISEASE_WORDS and not after.startswith("slot:"):
                return True
    return False


def _asks_working(tagged: tuple[str, ...]) -> bool:
    """Whether "how does that drug work?" is asked of a drug named before it: what the drug is."""
    for i in range(len(tagged) - 2):
        if tagged[i:i + 2] in (("how", "does"), ("how", "do")) and "<drug>" in tagged[:i + 3]:
            rest = [t for t in tagged[i + 2:i + 6] if t not in WORKING_FILLER]
            if rest[:1] == ["work"]:
                return True
    return False


def _asks_form(tagged: tuple[str, ...]) -> bool:
    """Whether a drug named before is asked to be a tablet, a drip or an injection ("is that a tablet?")."""
    # (not "is that the tablets?", which asks whether they caused something, nor "is it a pill? who is it for",
    # where the form is asked beside another question)
    for i in range(len(tagged) - 3):
        if (tagged[i] == "is" and tagged[i + 1] in KIND_PRONOUNS and tagged[i + 2] in ("a", "an") and "<drug>" in tagged[:i]
                and "what" not in tagged[:i]  # ("what is elacestrant? is it a tablet?" asks what it is first)
                and tagged[i + 3] in DRUG_FORMS and tagged[i + 4:i + 5] in ((), ("or",), ("what",))):
            return True
    return False


def _asks_experience(tagged: tuple[str, ...]) -> bool:
    """Whether "what is it like" is asked of a drug named before: how it is to have it, which its side effects say."""
    if len(tagged) < 3 or tagged[-1] != "like" or tagged[-2] not in (*KIND_PRONOUNS, "<drug>"):
        return False
    # "what is that like", "whats it like" (read as "what it like")
    opener = tagged[-3] == "what" or (tagged[-3] == "is" and tagged[-4:-3] == ("what",))
    return opener and "<drug>" in tagged[:-1]


def _asks_place(tagged: tuple[str, ...]) -> bool:
    """Whether a drug's "role" or "place" is asked ("still have a place?", "any role left for it?"), or whether
    it comes first or later ("is gemcitabine a first choice or a later one?")."""
    return {"first", "later"} <= set(tagged) or any(
        w == "role" or (w == "place" and tagged[i - 1:i] in (("a",), ("its",), ("their",))) for i, w in enumerate(tagged) if i > 0)


def _asks_action(tagged: tuple[str, ...]) -> bool:
    """Whether "what does <drug> (actually) do (to the cancer)" asks how a drug works: what it is."""
    for i, w in enumerate(tagged):
        if w == "<drug>" and tagged[max(0, i - 2):i] in (("what", "does"), ("what", "do")):
            rest = [t for t in tagged[i + 1:] if t not in ACTION_FILLERS]
            # ... but not "what does Ibrance do to your blood counts?" (its side effects)
            if rest[:1] == ["do"] and (len(rest) == 1 or (rest[1] == "to" and ACTION_TARGETS.intersection(rest[2:5]))):
                return True
    return False


def _asks_to_have(tagged: tuple[str, ...]) -> bool:
    """Whether "can she have <drug>" asks if a drug is open to someone, after what they have had."""
    return PROGRESSION in tagged and any(
        w == "<drug>" and i >= 3 and tagged[i - 3] in ("can", "could") and tagged[i - 2] in SUBJECTS
        and tagged[i - 1] in ("have", "get", "try", "start") for i, w in enumerate(tagged))


def _asks_reasonable(tagged: tuple[str, ...]) -> bool:
    """Whether "is <drug> (alone) reasonable / an option" asks where a drug fits, not what it is."""
    for i, w in enumerate(tagged):
        if w == "<drug>" and tagged[i - 1:i] == ("is",):
            rest = [t for t in tagged[i + 1:i + 5] if t not in ALONE_WORDS]
            if rest[:1] and (rest[0] in REASONABLE or tuple(rest[:2]) in (("an", "option"), ("still", "an"))):
                return True
    return False


#: "why do I need the injection?", "why does she need Zoladex?": the reason for a treatment is where it fits;
#: what "why do I need ..." may go on to name for it to ask about a treatment ("... an ECG?" asks about a test)
NEEDED_TREATMENT = frozenset({"<drug>", "<class>", "term:injection", "term:route"})
NEED_ARTICLES = frozenset({"the", "a", "an", "my", "her", "his", "this", "these", "those", "all"})


def _asks_need(tagged: tuple[str, ...]) -> bool:
    """Whether "why do I need ..." asks the reason for a treatment (where it fits), not how it is given."""
    for i, w in enumerate(tagged):
        if (w == "why" and tagged[i + 1:i + 2] in (("do",), ("does",), ("would",), ("will",))
                and tagged[i + 2:i + 3] and tagged[i + 2] in SUBJECTS and tagged[i + 3:i + 4] == ("need",)):
            rest = [t for t in tagged[i + 4:i + 7] if t not in NEED_ARTICLES]
            return bool(rest) and rest[0] in NEEDED_TREATMENT
    return False


#: What someone may "get" that is not a treatment: "does that mean I'll get infections?"
ILLNESS_WORDS = frozenset({"infection", "infections", "infect", "ill", "sick", "poorly", "unwell", "worse", "sicker", "bruise", "bleed"})


def _means_getting(words: tuple[str, ...]) -> bool:
    """Whether "does that mean I get / she'll need ..." asks what follows for treatment from what was said."""
    for i, w in enumerate(words):
        if w == "mean" and _means_that(words, i):
            after = words[i + 1 : i + 4]
            if not any(a in SUBJECTS for a in after[:1]):
                continue
            at = next((i + 1 + k for k, b in enumerate(after) if k and b in GETTING), None)
            # "my white count was low, does that mean I'll get infections?": a side effect's risk, not a treatment
            if at is not None and not ILLNESS_WORDS.intersection(words[at + 1 : at + 3]):
                return True
    return False


def defines_a_fact(knowledge: Knowledge, reading: Reading) -> bool:
    """Whether the words whose meaning is asked ("what does 2L mean", "what's progression mean") name
    only a fact about the person (a slot value) or a word for a line of treatment, nothing with a
    unit of its own."""
    tagged = reading.tagged
    at = next((i for i, w in enumerate(tagged) if w in MEANING_WORDS), None)
    if at is None:
        return False
    start = max((i + 1 for i, w in enumerate(tagged[:at]) if w in ("does", "do", "did", "is")), default=0)
    span = tagged[start:at]
    if span and all(w in POINTING_WORDS for w in span):
        span = tagged[:start]  # "the nurse said second line, what does that mean": what "that" points to
    hints = knowledge.aspect_model.hints if knowledge.aspect_model is not None else {}
    return (any(w.startswith("slot:") or hints.get(w) in LINE_ASPECTS for w in span)
            and not any(w in ("<drug>", "<class>") or w in knowledge.entity_units for w in span))


def _situated(guesses: list[Guess], reading: Reading) -> list[Guess]:
    """A drug asked about in a stated situation is asked whether it fits there.

    "HR+ HER2-low after ET, T-DXd?" reads like "what is T-DXd?" to the classifier (no aspect
    words), but a question that states the patient's facts asks whether the drug fits them.
    """
    if (not guesses or guesses[0].aspect != "what" or not reading.sets or any(w in WHAT_WORDS for w in reading.words)
            or MECHANISM in reading.tagged):  # "T-DXd mechanism in HER2-low": how it works, whatever the subtype
        return guesses
    fits = sum(g.probability for g in guesses if g.aspect in ("what", "where_fits"))
    return [Guess("where_fits", fits)] + [g for g in guesses if g.aspect not in ("what", "where_fits")]


def _asks_kind(tagged: tuple[str, ...]) -> bool:
    """"is Keytruda a chemo?", "is Enhertu a type of Herceptin?": whether a drug belongs to a class, or is a
    form of another drug, is what the drug is, whatever situation follows."""
    for i, w in enumerate(tagged[:-1]):
        # (or the drug just named: "they want him on Talzenna. is that one of the PARP drugs?")
        named = tagged[i + 1] == "<drug>" or (tagged[i + 1] in KIND_PRONOUNS and "<drug>" in tagged[:i])
        if w in ("is", "isnt") and named:
            words = tagged[i + 2:i + 6]
            rest = [t for t in words if t not in KIND_FILLER]
            if rest[:3] == ["same", "as", "<drug>"]:
                return True  # "is tamoxifen the same as letrozole?": what each is
            if rest and (rest[0] == "<class>" or (rest[0] == "<drug>" and bool(KIND_WORDS.intersection(words)))):
                return True
    # "talzenna - is that like the brca pill lynparza?", "dato-dxd, similar to enhertu?": set beside another drug
    # (not "is it a set number of cycles like chemo?", "the same time as the xeloda?": another aspect compared)
    for i in range(2, len(tagged) - 1):
        likened = tagged[i - 1:i + 1] in LIKENESS or (tagged[i] == "like" and tagged[i - 2:i] in (("is", "that"), ("is", "it")))
        if likened and "<drug>" in tagged[:i - 1] and "<drug>" in tagged[i + 1:i + 5]:
            return True
    return False


def _lined(knowledge: Knowledge, guesses: list[Guess], reading: Reading, hints: dict[str, str]) -> list[Guess]:
    """A stated line with no drug named breaks a near tie towards that line's aspect.

    "what's first line when it's only in the bones and hormone positive" asks for the first-line
    options, however the classifier weighs "only in the bones"; with a drug named ("1L palbo?")
    the line is the situation of the drug's question instead, and so it is of a term that signals
    its own aspect ("is a trial an option in 1L HR+ disease?").
    """
    line = reading.sets.get("line")
    if not guesses or line is None:
        return guesses
    if _names_a_drug(knowledge, reading):
        wanted = "first_line" if line == "first" else AFTER_PROGRESSION
        if guesses[0].aspect == wanted and len(_named_entities(knowledge, reading)) >= 2:
            # "1L endocrine-sensitive: AI vs fulv backbone with palbo?": regimens of the stated line compared
            return [Guess(wanted, max(guesses[0].probability, ASPECT_MIN))] + guesses[1:]
        return guesses
    later = next((g for g in guesses if g.aspect == AFTER_PROGRESSION), None)
    if guesses[0].aspect == "first_line" and line in LATER_LINES and later is not None:
        # "progressing on 1L THP maintenance: 2L standard?": the first line is history, a later one is asked
        rest = [g for g in guesses if g is not later and g is not guesses[0]]
        return [Guess(AFTER_PROGRESSION, later.probability + guesses[0].probability)] + rest
    if any(w in hints for w in reading.tagged):
        return guesses
    if guesses[0].aspect not in DRUG_ASPECTS:
        return guesses  # a question of its own kind ("is a trial an option in 1L?") keeps it
    wanted = "first_line" if line == "first" else AFTER_PROGRESSION
    return _lift(guesses, next((g for g in guesses if g.aspect == wanted), None))


def _lift(guesses: list[Guess], hinted: Guess | None) -> list[Guess]:
    """The guesses with ``hinted`` first, when it is within TIE_BREAK of the best: it takes the best's mass too."""
    if hinted is None or hinted is guesses[0] or hinted.probability * TIE_BREAK < guesses[0].probability:
        return guesses
    total = sum(g.probability for g in guesses)
    lifted = Guess(hinted.aspect, hinted.probability + guesses[0].probability)
    return [Guess(g.aspect, g.probability / total) for g in [lifted] + [g for g in guesses if g is not hinted and g is not guesses[0]]]


#: Terms whose aspect is the question whatever else the message says.
CHEMO_FOR_EVERYONE = "term:chemo_for_everyone"
SETTLING_HINTS = frozenset({"term:same_cancer", "term:if_stopped", "term:cdk46_beyond_progression", CHEMO_FOR_EVERYONE})


def _hinted(guesses: list[Guess], reading: Reading, hints: dict[str, str]) -> list[Guess]:
    """The classifier's guesses, narrowed to the aspects the message's own terms signal.

    A named symptom or toxicity settles side effects ("kisqali ECG schedule"); when terms signal
    several aspects ("sacituzumab dose and premeds": a dose and an infusion reaction), the
    classifier chooses among them.
    """
    tagged = reading.tagged
    # "the scan showed it's in my spine, can they treat bones?": what a scan found is the scene, not a test asked about
    terms = [w for i, w in enumerate(tagged) if w in hints
             and not (w == SCAN and i + 1 < len(tagged) and tagged[i + 1] in FOUND_WORDS and TREAT_WORDS.intersection(tagged))
             and not (w == SURGERY and _dated_by(tagged, i))]
    signalled = {hints[w] for w in terms}
    if not signalled:
        return guesses
    strong = {hints[w] for w in terms if w not in WEAK_HINTS}
    settling = [w for w in terms if w in SETTLING_HINTS
                and not (w == CHEMO_FOR_EVERYONE and SUBTYPE_SLOTS.intersection(reading.sets))]
    if settling:
        return [Guess(hints[settling[0]], 1.0)]  # "so is it bone cancer now?" asks what the site's cancer is
    if FREQUENCY in terms and any(hints[w] == TESTING for w in terms if w != FREQUENCY):
        return [Guess(TESTING, 1.0)]  # "how often CT/bone scans on 1L ET+CDK4/6i?" asks how often the test
    if FREQUENCY in terms and any(hints[w] == SIDE_EFFECTS for w in terms if w != FREQUENCY):
        return [Guess(SIDE_EFFECTS, 1.0)]  # "alpelisib hyperglycaemia - how often?" asks how common it is
    if BLOOD_TESTS in terms and (GENE_TESTS in terms or any(w.startswith(GENE_SLOT) for w in reading.tagged)
                                 or GENE_WORDS.intersection(reading.words)):  # "a blood test 'for mutations'"
        # "is the BRCA test a blood test?" asks about the gene test, not the blood monitoring of a drug;
        # "an ESR1 mutation in my blood test, what now?" is a result, not a side effect
        return _renormalised([g for g in guesses if g.aspect != SIDE_EFFECTS], guesses)
    if SIDE_EFFECTS in signalled and (signalled <= {SIDE_EFFECTS, TESTING} or strong == {SIDE_EFFECTS}):
        # "heart tests on Kisqali" are the monitoring of a side effect; in "feel sick after my
        # enhertu drip" the drip only says when
        signalled = {SIDE_EFFECTS}
    kept = [g for g in guesses if g.aspect in signalled]
    if len(signalled) == 1 and SIDE_EFFECTS in signalled:
        return [Guess(SIDE_EFFECTS, 1.0)]
    if len(signalled) == 1:
        # one other hint is one feature among the rest: the classifier has weighed it, but it breaks a near
        # tie ("what scans do they do for stage 4": the scans' aspect, not a first line)
        return _lift(guesses, next((g for g in guesses if g.aspect in signalled and g.aspect in strong), None))
    return _renormalised(kept, guesses)


def _spread_site_only(reading: Reading, site: str) -> bool:
    """Whether a site is named only as where the cancer spread ("spread to my bones"), just after the spread word."""
    tagged = reading.tagged
    places = [i for i, w in enumerate(tagged) if w == site]
    return bool(places) and all(METASTATIC in tagged[max(0, i - 3):i] for i in places)


def _dated_by(tagged: tuple[str, ...], i: int) -> bool:
    """"came back 8 months after she finished chemo before her surgery": an operation that dates the story, not one asked about."""
    return i >= 2 and tagged[i - 1] in ("her", "his", "my", "the") and tagged[i - 2] in ("before", "after", "since")


def _renormalised(kept: list[Guess], otherwise: list[Guess]) -> list[Guess]:
    """The guesses kept, their probabilities scaled to add up to one (``otherwise`` when none is left)."""
    total = sum(g.probability for g in kept)
    return [Guess(g.aspect, g.probability / total) for g in kept] if kept and total > 0 else otherwise


def _as_evidence(guesses: list[Guess], asked: str = OUTLOOK) -> list[Guess]:
    """An aspect asked of a drug that its evidence answers, folded into evidence: outlook (the
    survival its trials showed), or a trial asked about ("which trial got it approved")."""
    if not any(g.aspect == asked for g in guesses):
        return guesses
    merged: dict[str, float] = {}
    for g in guesses:
        aspect = EVIDENCE if g.aspect == asked else g.aspect
        merged[aspect] = merged.get(aspect, 0.0) + g.probability
    return [Guess(a, p) for a, p in sorted(merged.items(), key=lambda item: -item[1])]


def is_site(knowledge: Knowledge, concept_id: str) -> bool:
    """Whether a concept is a site of the disease: one with a card for local treatment (bone, liver, brain)."""
    return lookup(knowledge, concept_id, LOCAL_TREATMENT) is not None


def _covering_first(knowledge: Knowledge, reading: Reading, entities: list[str]) -> list[str]:
    """Another concept first when the term named before it is one that concept's card covers and not
    the other way round: "dexamethasone for brain oedema" asks about the brain's card, which has the
    steroid doses; "dexamethasone for fatigue" the fatigue card, which weighs it."""
    first = entities[0]
    if (not first.startswith("term:") or _is_organ_site(knowledge, first)
            or any(c.id == first and c.leads for c in reading.concepts)):  # "is it the steroids?" asks about them
        return entities
    own = knowledge.entity_units.get(first, ())
    for entity in entities[1:]:
        if not entity.startswith("term:"):
            continue
        cards = knowledge.entity_units.get(entity, ())
        # (not when the term's own card speaks of the other too: "dyspnoea in lymphangitis" is the breathlessness card's)
        if (cards and any(first in mentions(knowledge, c) for c in cards)
                and not any(entity in mentions(knowledge, u) for u in own)):
            return [entity] + [e for e in entities if e != entity]
    return entities


#: Openings that ask whether what was told is a named condition ("could this be depression?").
WHETHER_OPENINGS = (("could", "this", "be"), ("could", "it", "be"), ("might", "this", "be"), ("might", "it", "be"),
                    ("is", "this"), ("is", "it"), ("sounds", "like"))


def _asked_whether(reading: Reading, entities: list[str]) -> str | None:
    """The term a message asks whether its story amounts to, when one is named right after such an opening."""
    tagged = reading.tagged
    for i, w in enumerate(tagged):
        if w in entities and w.startswith("term:") and w != entities[0] and any(
                tuple(tagged[max(0, i - len(o)):i]) == o for o in WHETHER_OPENINGS):
            return w
    return None


def _feeling_as_scene(knowledge: Knowledge, entities: list[str], top: Guess) -> list[str]:
    """A feeling named beside a treatment asked about is the scene: "Ibrance and letrozole stopped working,
    what comes next? I'm scared it's chemo" asks what comes next; the fear is how it is asked."""
    if entities[0] not in FEELINGS or top.aspect not in TREATMENT_ASPECTS or top.probability < CLEAR_MIN:
        return entities
    others = [e for e in entities[1:] if e not in FEELINGS and lookup(knowledge, e, top.aspect) is not None]
    if not others or not any(e.split(":", 1)[0] in ENTITY_KINDS for e in entities):
        return entities
    return others + [e for e in entities if e not in others]


def _living_first(knowledge: Knowledge, reading: Reading, entities: list[str]) -> list[str]:
    """A part of life asked about first when a site is named as its scene: "with bone mets can I still go to
    the gym?" asks about exercise, which its one card answers whatever is asked; the bone is the scene.
    (Not a feeling, which is the scene itself, nor a leading term, which the rules above have weighed.)"""
    if not _is_organ_site(knowledge, entities[0]):
        return entities
    leading = {c.id for c in reading.concepts if c.leads}
    for entity in entities[1:]:
        if (not entity.startswith("term:") or entity in SIDE_EFFECT_TERMS or entity in FEELINGS or entity in leading
                or _is_organ_site(knowledge, entity)):
            continue
        cards = knowledge.entity_units.get(entity, ())
        if len(cards) == 1 and len(knowledge.topics[next(iter(cards))].aspects) >= CATCH_ALL:
            return [entity] + [e for e in entities if e != entity]
    return entities


def _is_organ_site(knowledge: Knowledge, concept_id: str) -> bool:
    """A site whose local-treatment card is its own (lungs, liver, bone), not a card that answers
    anything about its concept (intimacy, travel)."""
    card = lookup(knowledge, concept_id, LOCAL_TREATMENT)
    return card is not None and len(knowledge.topics[card].aspects) < CATCH_ALL


def _falls_back(entity: str, aspect: str) -> bool:
    return aspect not in DRUG_ONLY_FALLBACKS or entity.split(":", 1)[0] in ENTITY_KINDS


def _trial_result_asked(reading: Reading, probability: float) -> list[Guess]:
    """A trial's result asked, and what the drug is as well when the message asks that too
    ("gedatolisib: what is it and what did VIKTORIA-1 show?")."""
    guesses = [Guess(EVIDENCE, probability)]
    if _asks_two(reading) and _what_is_it(reading.tagged):
        guesses.append(Guess("what", SECOND_ASPECT_MIN))
    return guesses


def _what_is_it(tagged: tuple[str, ...]) -> bool:
    """"what is it", "what is <drug>": a question asking what a drug is."""
    return any(tagged[i:i + 2] == ("what", "is") and tagged[i + 2] in ("it", "<drug>", "this", "that")
               for i in range(len(tagged) - 2))


def _asks_two(reading: Reading) -> bool:
    tagged = reading.tagged
    return any(w == "and" and (tagged[i + 1] in SECOND_QUESTION_WORDS or tagged[i + 1].startswith("term:"))
               for i, w in enumerate(tagged[:-1]))


def _listed_aspect_units(knowledge: Knowledge, reading: Reading, entity: str) -> dict[str, str]:
    """The entity's units for aspects named by terms joined by "and", "&", "/" or "or" ("dose and
    side effects?"), each with the term that named it: empty unless two different units are named that way."""
    tagged, hints = reading.tagged, knowledge.aspect_model.hints  # hints: the term that signals each aspect
    units: dict[str, str] = {}
    last = -2
    for i, w in enumerate(tagged):
        aspect = hints.get(w)
        if aspect not in LISTED_ASPECTS:
            continue
        unit = lookup(knowledge, entity, aspect)
        if unit is None:
            continue
        side_by_side = i == last + 1 and w != tagged[last] and SIDE_EFFECTS not in (aspect, hints.get(tagged[last]))
        if units and not (i == last + 2 and tagged[last + 1] in ASPECT_LINKS) and not side_by_side:
            # far apart, or a symptom beside another word ("allergy meds"): not a list of what is asked
            # (two other aspect words side by side are one: "mechanism, route")
            return {}
        units.setdefault(unit, w)
        last = i
    return units if len(units) > 1 else {}


#: Words that ask about a test itself, not what its result means for treatment (nor how common the change is:
#: "how often is ESR1 tested?" asks the testing schedule).
TEST_WORDS = frozenset({"test", "tests", "testing", "tested", "retest", "retested", "assay", "assays", "biopsy", "biopsies",
                        "sample", "ngs", "panel", "ctdna", "liquid", "result", "results", "report"})


def _treatments_weighed(reading: Reading) -> bool:
    """Two treatments set against each other ("PARPi or platinum?", "carbo vs PARPi"), with no word about a test."""
    tagged = reading.tagged
    at = [i for i, w in enumerate(tagged) if w in ("<drug>", "<class>")]
    return not TEST_WORDS.intersection(reading.words) and _compared_between(tagged, at)


def _compared_between(tagged: tuple[str, ...], named: list[int]) -> bool:
    """A comparing word ("or", "vs") between the first and the last of the things named at ``named``."""
    return len(named) >= 2 and any(w in COMPARING for w in tagged[named[0] + 1 : named[-1]])


def _compares(knowledge: Knowledge, reading: Reading) -> bool:
    """A comparing word between two things named ("Kisqali or Verzenio"; not "CPS 10 or more")."""
    named = [i for i, w in enumerate(reading.tagged) if w in ("<drug>", "<class>") or w in knowledge.entity_units]
    if len(named) < 2:
        return False
    between = reading.tagged[named[0] + 1 : named[-1]]
    after = reading.tagged[named[-1] + 1 :]
    # "talazoparib dose? and olaparib tab dose": the same thing asked of each, one after the other
    parallel = "and" in between and any(w.startswith("term:") and w in after for w in between)
    return _compared_between(reading.tagged, named) or parallel or (
        "and" in between and bool((DIFFERENCE_WORDS | PICKING).intersection(reading.words)))


def _only_unit(knowledge: Knowledge, entity: str, hinted: bool = False) -> str | None:
    """The card of a site or biomarker for a question that does not say what it asks:
    its only unit, or else its "what it is" unit ("it has spread to her spine, what happens now?")."""
    if entity.split(":", 1)[0] in ENTITY_KINDS:
        return None
    found = knowledge.entity_units.get(entity, frozenset())
    if len(found) == 1:
        return next(iter(found))
    return None if hinted else knowledge.units.get((entity, "what"))  # "the bone injections" asks something else


def lookup(knowledge: Knowledge, entity: str, aspect: str) -> str | None:
    """The unit for (entity, aspect): the aspect, then its fallback; the entity, then its classes."""
    entities = _candidates(knowledge, entity)
    fallback = knowledge.aspects[aspect].falls_back_to if aspect in knowledge.aspects else None
    if aspect in DRUG_ONLY_FALLBACKS:
        # a line asked of a drug is its class's regimen before the drug's own card: "progressed on
        # capivasertib, next?" is the later-lines card; "could Piqray be an option?" falls to Piqray's
        pairs = [(c, aspect) for c in entities] + [(c, fallback) for c in entities if _falls_back(c, aspect)]
    else:
        pairs = [(c, w) for c in entities for w in (aspect, fallback if _falls_back(c, aspect) else None)]
    for candidate, wanted in pairs:
        unit = knowledge.units.get((candidate, wanted)) if wanted else None
        if unit is not None:
            return unit
    return None


def _regimen_for(knowledge: Knowledge, aspect: str | None, reading: Reading) -> str | None:
    """The only regimen card for a line asked with the subtype stated: a card that answers just that
    aspect and is written for the stated subtype (it names the subtype slots it applies to)."""
    # stated, or suggested by the drugs named ("letrozole and Ibrance stopped working": HR+/HER2-)
    stated = {slot: value for slot, value in {**reading.suggested, **reading.sets}.items() if slot in SUBTYPE_SLOTS}
    if aspect != AFTER_PROGRESSION or not stated:
        return None
    cards = [t.id for t in knowledge.topics.values()
             if t.aspects == (aspect,) and {slot for slot, _ in t.applies} & stated.keys() and t.applies_to(stated)]
    return cards[0] if len(cards) == 1 else None


def _test_for_drug(knowledge: Knowledge, reading: Reading, entity: str) -> str | None:
    """The biomarker card that names a drug, for "which test before X?" when the message names no test of its own.

    A card about something (not an overview) declaring testing among at most TEST_CARD_ASPECTS
    aspects is about a test (the PIK3CA card names capivasertib); "DPYD genotyping before cape"
    names its test and is left to it.
    """
    if entity.split(":", 1)[0] not in ENTITY_KINDS:
        return None
    # the person's situation ("triple negative, spread to the lungs: is immunotherapy an option? what's the
    # test?") does not name a test of its own
    if any(c.kind not in ENTITY_KINDS and c.id not in GENERIC_TEST_TERMS and c.id not in TEST_SITUATION_TERMS
           and not is_site(knowledge, c.id) for c in reading.concepts):
        return None
    cards = [t for t in knowledge.topics.values()
             if t.entities and TESTING in t.aspects and len(t.aspects) <= TEST_CARD_ASPECTS and entity in mentions(knowledge, t.id)]
    # a result's own card (a slot value: "PIK3CA mutation") before a term's ("receptor discordance")
    # (and, among those, a test the drug's own cards name: PD-L1 for immunotherapy, not the overview of every subtype's tests)
    named_by_drug = {m for unit in knowledge.entity_units.get(entity, ()) for m in mentions(knowledge, unit)}
    cards.sort(key=lambda t: (not any(e.startswith("slot:") for e in t.entities),
                              not any(e in named_by_drug for e in t.entities)))
    return cards[0].id if cards else None


def _broad_side_effects(knowledge: Knowledge, found: list[Concept], top: Guess | None) -> tuple[str, str] | None:
    """(class, unit) when a clear side-effects question names only a broad class ("chemo") that has a card for it."""
    if top is None or top.aspect != SIDE_EFFECTS or top.probability < ASPECT_MIN:
        return None
    for concept in found:
        if concept.kind == "class" and not _specific(knowledge, concept.id):
            unit = knowledge.units.get((concept.id, SIDE_EFFECTS))
            if unit is not None:
                return concept.id, unit
    return None


def _asks_others(words: tuple[str, ...]) -> bool:
    """Whether more side effects than those named are asked ("what else is there?", "any other side effects?");
    not "the tablets don't help, what else?", which asks what else eases one."""
    pairs = set(zip(words, words[1:], words[2:]))
    return bool(pairs & {("what", "else", "is"), ("what", "else", "are"), ("other", "side", "effects"),
                         ("what", "other", "side"), ("any", "other", "side")})


def _symptom_first(knowledge: Knowledge, reading: Reading, entities: list[str], side_effects_asked: bool) -> list[str]:
    """A symptom's own card first, when the drug's side-effect card never mentions it (or there is none),
    or when a site is named as the cause of a symptom someone asks how to ease, or when a carer asks how to ease
    the symptom of the person they look after.

    "My nails are lifting on docetaxel": the chemotherapy side-effects card says nothing of nails,
    the nail card does; "Nerlynx diarrhoea" stays with the drug's card, which covers it.
    """
    carer = entities[0] in CARER_LEADS
    drug_named = entities[0].split(":", 1)[0] in ENTITY_KINDS
    if drug_named and _asks_others(reading.words):
        return entities  # "Kisqali: I read about diarrhoea and low counts, what else?": the drug's whole card
    if carer:
        # "how do I help my wife with mouth sores from chemo?": easing her symptom is asked, the carer is the asker
        drug_card, managing = None, True
    elif drug_named and side_effects_asked:
        drug_card = lookup(knowledge, entities[0], SIDE_EFFECTS)
        # "stomatitis on ADCs": no class card, the symptom's; "numb fingers after paclitaxel, is it permanent?":
        # how long a symptom lasts is on its own card
        managing = drug_card is None or asks_to_manage(reading) or asks_lasting(reading.words)
    elif not drug_named and _is_organ_site(knowledge, entities[0]) and (
            asks_to_manage(reading) or (side_effects_asked and SINCE_STARTING in reading.tagged)):
        # "lung secondaries, out of breath on the stairs: what helps?": the site is the cause, easing the
        # symptom the question, whatever aspect the classifier guessed; "constipated since starting morphine for
        # my bone pain": a symptom that began with a treatment is the symptom's question, the site its scene
        drug_card, managing = lookup(knowledge, entities[0], SIDE_EFFECTS), True
    else:
        return entities
    if not managing and drug_card is not None and any(
            c.id in SIDE_EFFECT_TERMS and c.id in mentions(knowledge, drug_card) for c in reading.concepts):
        return entities  # "weight gain on letrozole, I hate how I look": the drug's card covers what is asked
    theirs = _said_of_them(reading) if carer else frozenset()
    for concept in reading.concepts:
        if carer and (concept.id not in theirs or concept.id in FEELINGS or concept.id in SITUATION_LEADS):
            continue  # only a symptom said to be theirs: "I'm her carer and I'm exhausted" is the carer's own
        if concept.id in TREATMENT_TERMS and not drug_named:
            continue  # "will steroids help the swelling in my brain?": a treatment for the site, not a symptom
        if concept.id == PHONE_NUMBERS:
            continue  # "on Ibrance, when should I call the hotline?": a number to call is not a symptom
        if concept.id in FEELINGS and concept.id not in entities:
            continue  # "how is eribulin given and its side effects? she's nervous": a feeling already set aside as the scene
        own = (knowledge.units.get((concept.id, SIDE_EFFECTS))
               if concept.kind == "term" and concept.id not in GENERAL_LEADS and concept.id != entities[0] else None)
        if (own is not None and concept.id not in SIDE_EFFECT_TERMS and concept.id not in FEELINGS
                and len(knowledge.topics[own].aspects) >= CATCH_ALL):
            continue  # "worst side effect of Enhertu? someone in my facebook group said lungs": the group is the scene
        if own is not None and own != drug_card and (managing or concept.id not in mentions(knowledge, drug_card)):
            # "so tired on Ibrance, anything that helps?": what eases the symptom is on its own card
            return [concept.id] + [e for e in entities if e != concept.id]
    return entities


def asks_lasting(words: tuple[str, ...]) -> bool:
    """"is it permanent?", "will it go away?", "do they ever stop?": how long a symptom lasts (a "permanent
    d/c" or discontinuation is a decision about the drug)."""
    if any(w.startswith("discontinu") or w == "dc" for w in words) or any(
            a == "permanent" and b == "d" for a, b in zip(words, words[1:])):
        return False
    return bool(LASTING_WORDS.intersection(words)) or any(
        a == "go" and b in ("away", "back") or a == "ever" and b in ("stop", "go", "end", "ease") or a == "wear" and b == "off"
        for a, b in zip(words, words[1:]))


def _said_of_them(reading: Reading) -> frozenset[str]:
    """The terms said to be the cared-for person's: just after "with", "her", "his" or "their" ("with her mouth sores")."""
    tagged = reading.tagged
    return frozenset(w for i, w in enumerate(tagged) if w.startswith("term:") and THEIR_WORDS.intersection(tagged[max(0, i - 2):i]))


def _signalled(knowledge: Knowledge, reading: Reading, aspect: str) -> bool:
    """Whether the message names one of the terms that signal ``aspect`` ("more chemo stops" signals stopping)."""
    return any(c.id in knowledge.aspects[aspect].terms for c in reading.concepts)


def _asks_effect(reading: Reading) -> bool:
    """Whether the message asks what something changes: "does BRCA change the first treatment?" (not "a BRCA2 change")."""
    tagged = reading.tagged
    for i, w in enumerate(tagged[1:], start=1):
        if w not in EFFECT_WORDS or not AUXILIARIES.intersection(tagged[:i]):
            continue
        if not tagged[i - 1].startswith("slot:") or OBJECT_STARTS.intersection(tagged[i + 1 : i + 2]):
            return True
    return False


def asks_to_manage(reading: Reading) -> bool:
    """Whether a message asks how to ease or cope with a symptom ("what cream?", "will it go away?")."""
    words = reading.words
    return bool(MANAGING_WORDS.intersection(words)) or bool(MANAGING_PAIRS.intersection(zip(words, words[1:])))


def mentions(knowledge: Knowledge, unit: str) -> frozenset[str]:
    """The lexicon concepts a unit's answers name, in either voice (read once per unit, then kept)."""
    found = knowledge.mentions.get(unit)
    if found is None:
        topic = knowledge.topics[unit]
        text = " ".join(topic.answer.sources.values()) + " " + topic.title
        found = frozenset(c.id for c in knowledge.lexicon.read(list(read_message(text).words)).concepts)
        knowledge.mentions[unit] = found
    return found


def trial_drugs(knowledge: Knowledge) -> dict[str, str]:
    """A trial's name word -> the drug whose lexicon names include it ("serena 6" -> camizestrant), read once, then kept."""
    if knowledge.trial_drugs is None:
        found: dict[str, str] = {}
        for phrase, concept in knowledge.lexicon.phrases.items():
            if concept.kind == "drug" and phrase[0] in TRIAL_NAMES:
                found.setdefault(phrase[0], concept.id)
        knowledge.trial_drugs = found
    return knowledge.trial_drugs


def _bearing_a_drug(tagged: tuple[str, ...]) -> bool:
    """Whether a feeling is said of a drug: "can't cope with the letrozole", "struggling with my Kisqali"."""
    for i, w in enumerate(tagged):
        if w in FEELINGS:
            rest = [t for t in tagged[i + 1:i + 4] if t not in OWNER_WORDS]
            if rest[:2] == ["with", "<drug>"]:
                return True
    return False


def _spread_despite(knowledge: Knowledge, reading: Reading) -> set[int]:
    """The positions of drugs the cancer spread on: "spread to his liver even on tamoxifen", "new liver
    mets despite being on Kisqali" (a spread, growth or new site before them, no progression word needed)."""
    tagged = reading.tagged
    spread = [i for i, w in enumerate(tagged) if w in SPREAD_TAGS
              or (w == "new" and i + 1 < len(tagged) and tagged[i + 1].startswith("term:") and is_site(knowledge, tagged[i + 1]))]
    if not spread:
        return set()
    found: set[int] = set()
    for n, i in enumerate(_concept_places(tagged)):
        before = tagged[max(0, i - 3):i]
        if tagged[i] == "<drug>" and spread[0] < i and any(before[-len(w):] == w for w in DESPITE_WORDS):
            found.add(n)
    return found


def _dated_by_trial(knowledge: Knowledge, reading: Reading) -> set[int]:
    """The positions of drugs named by their trials after "post" or "since": "is THP still standard post
    DB-09?", "1L TNBC, no PD-(L)1, after ASCENT-03 / TROPION-Breast02: options?" date the question by
    the trials' results; nobody is said to have had the drugs, and they are not what is asked."""
    drugs = trial_drugs(knowledge)
    words, tagged = reading.words, reading.tagged
    if not any(w in drugs and _after_dating_word(words[:n]) for n, w in enumerate(words)):
        return set()
    tested = {drugs[w] for w in words if w in drugs}
    dated: set[int] = set()
    for n, i in enumerate(_concept_places(tagged)):
        j = i - 1
        while j >= 0 and tagged[j] in ("<drug>", "and", "or", "/", ",", "the"):
            j -= 1  # back over the other trials of a list: "after ASCENT-03 / TROPION-Breast02"
        if j >= 0 and tagged[j] in TRIAL_AS_HISTORY and tagged[i] == "<drug>" and reading.concepts[n].id in tested:
            dated.add(n)
    return dated


def _after_dating_word(before: tuple[str, ...]) -> bool:
    """Whether the words before a trial date it: "post DB-09", "since the DESTINY-Breast09 trial"."""
    if before[-1:] == ("the",):
        before = before[:-1]
    return bool(before) and before[-1] in TRIAL_AS_HISTORY


def _only_at(reading: Reading, concept_id: str, places: set[int]) -> bool:
    """Whether every mention of the concept is at one of these positions."""
    at = [n for n, c in enumerate(reading.concepts) if c.id == concept_id]
    return bool(places) and all(n in places for n in at)


def _drug_first(named: list[Concept], found: list[Concept], drug: Concept | None) -> tuple[list[Concept], list[Concept]]:
    """The named and found concepts with ``drug`` first in both (unchanged when there is none)."""
    if drug is None:
        return named, found
    return _to_front(named, drug.id), _to_front(found, drug.id)


def _to_front(concepts: list[Concept], concept_id: str) -> list[Concept]:
    """The concepts with ``concept_id`` first, the rest in their order."""
    return [c for c in concepts if c.id == concept_id] + [c for c in concepts if c.id != concept_id]


def _two_drugs_joined(tagged: tuple[str, ...]) -> bool:
    """Whether two drugs are named side by side as one question ("Orserdu and Itovebi", "Ibrance & Kisqali"),
    not as the treatment someone is on ("on abemaciclib and fulvestrant")."""
    return any(tagged[i:i + 3] in (("<drug>", "and", "<drug>"), ("<drug>", "&", "<drug>"))
               and (i == 0 or tagged[i - 1] not in TREATMENT_CONTEXT_WORDS) for i in range(len(tagged) - 2))


def _switched_to(reading: Reading) -> str | None:
    """The drug a message asks to switch to ("from the drips to the Phesgo injection"), if it says "from ... to"."""
    tagged = reading.tagged
    if "from" not in tagged:
        return None
    start = tagged.index("from")
    for place, concept in zip(_concept_places(tagged), reading.concepts):
        if place > start and concept.kind == "drug" and SWITCHED_TO.intersection(tagged[start:place]):
            return concept.id
    return None


def _drug_sought(reading: Reading) -> str | None:
    """The drug right after "eligible for", "a candidate for", "qualify for" ("... a candidate for elacestrant?")."""
    tagged = reading.tagged
    for place, concept in zip(_concept_places(tagged), reading.concepts):
        if concept.kind == "drug" and place >= 1 and (tagged[place - 1] == ELIGIBILITY or (
                place >= 2 and tagged[place - 1] == "for" and tagged[place - 2] in SEEKING_WORDS | {ELIGIBILITY})):
            return concept.id
    return None


def _concept_places(tagged: tuple[str, ...]) -> list[int]:
    """The positions in a tagged message of the words that stand for its concepts, in the concepts' order."""
    return [i for i, w in enumerate(tagged) if w.startswith(("<", "term:", "slot:"))]


def _trial_first(knowledge: Knowledge, reading: Reading, found: list[Concept]) -> list[Concept]:
    """The drug a named trial tested comes first: "emergent ESR1m on 1L AI+CDK, SERENA-6 approach?" asks about
    camizestrant's trial, whatever the scene names before it."""
    trials = TRIAL_NAMES.intersection(reading.words)
    if not trials or len(found) < 2:
        return found
    drugs = trial_drugs(knowledge)
    tested = {drugs[t] for t in trials if t in drugs}
    if len(tested) != 1:
        return found
    first = [c for c in found if c.id in tested]
    if not first or found[0].id in tested:
        return found
    ahead = found[: found.index(first[0])]
    # only past a scene ("on first-line letrozole + palbo, SERENA-6 data?"): not when the trial is history ("T-DM1:
    # its place post DESTINY-Breast03?" asks about T-DM1), not past the trial drug's own class ("which CDK4/6i has
    # OS? was MONARCH-3's significant?" asks about the class) or a leading term ("CDK4/6 beyond progression:
    # MAINTAIN vs postMONARCH")
    words = reading.words
    if any(w in trials and n > 0 and words[n - 1] in TRIAL_AS_HISTORY for n, w in enumerate(words)):
        return found
    if any((c.kind == "class" and c.id in first[0].implies) or (c.kind == "term" and c.leads) for c in ahead):
        return found
    # a drug named ahead is the question ("who gets exemestane, BOLERO-2 data"), unless it is what the person is
    # on ("emerging ESR1 on first-line letrozole + palbociclib: SERENA-6 data?")
    scene = _treatment_scene(reading)
    if any(c.kind == "drug" and c.id not in scene for c in ahead):
        return found
    return _to_front(found, first[0].id)


def _treatment_scene(reading: Reading) -> set[str]:
    """The drugs and classes named as what someone is on now: "on first-line letrozole + palbo", "during AI+CDK"."""
    tagged = reading.tagged
    scene: set[str] = set()
    for i, concept in zip(_concept_places(tagged), reading.concepts):
        if concept.kind not in ENTITY_KINDS:
            continue
        j = i - 1
        while j >= 0 and (tagged[j] in COMBINING or tagged[j].startswith("slot:line=")):
            j -= 1  # back over the rest of a combination and its line: "on 1L AI + CDK"
        if j >= 0 and tagged[j] in SCENE_WORDS:
            scene.add(concept.id)
    return scene


def _names_trial(reading: Reading, guesses: list[Guess]) -> bool:
    """Whether a trial or its results are named in a question that asks nothing else clearly ("what" is the
    classifier's default when the lexicon reads a trial's name as its drug's): "INAVO120, how was resistance
    defined?", "everolimus after CDK4/6, what does the data look like?"."""
    if not (TRIAL_NAMES | RESULT_WORDS).intersection(reading.words) or NOT_RESULT_WORDS.intersection(reading.words):
        return False
    # "VIKTORIA-1: what exactly was tested?" asks what the trial tested, not about a test
    return not guesses or guesses[0].aspect == "what" or (
        guesses[0].aspect == TESTING and bool(TRIAL_NAMES.intersection(reading.words))
        and all(c.kind in ENTITY_KINDS or c.id == TESTING_TERM for c in reading.concepts))  # (not "ASCENT-04: PD-L1 cutoff?")


def _harm_asked(reading: Reading) -> bool:
    """Whether the message asks if something harms a part of the body ("can it damage your kidneys"),
    says a part of the body went wrong on it ("lung problems") or asks what to watch for."""
    words = reading.words
    if WATCH_PAIRS.intersection(zip(words, words[1:])):
        return True  # "enhertu: what should I look out for?"
    if any(w in CAUSING and TROUBLE_WORDS.intersection(words[i + 1:i + 3]) for i, w in enumerate(words)):
        return True  # "can the faslodex jabs cause problems where they go in?"
    if any(w in MAKING and words[i + 1:i + 2] and words[i + 1] in MADE_WHO and MADE_UNWELL.intersection(words[i + 2:i + 5])
           and "feel" not in words[i + 2:i + 5] for i, w in enumerate(words)):
        return True  # "is it true trodelvy makes you really sick?" (a feeling named has a card of its own)
    for i, w in enumerate(words):
        if w in BODY_PARTS and TROUBLE_WORDS.intersection(words[i + 1 : i + 4]) and not SITE_WORDS.intersection(words[i + 1 : i + 3]):
            return True  # "enhertu and lung problems", "piqray made my sugar go high"
        if w in SURFACE_PARTS and SURFACE_TROUBLE.intersection(words[max(0, i - 3) : i + 4]):
            return True  # "sore red hands and feet on Xeloda", "my fingertips are splitting"
        if w not in HARM_WORDS:
            continue
        for j in range(i + 1, min(len(words), i + 1 + HARM_REACH)):
            if words[j] in BODY_PARTS:
                return not SITE_WORDS.intersection(words[j + 1 : j + 3])
    return False


def _named_later(knowledge: Knowledge, reading: Reading, entity: str, past: set[int]) -> bool:
    """Whether a drug or a specific class, not named as history, comes after ``entity`` in the message."""
    named = [(n, c.id) for n, c in enumerate(reading.concepts) if c.kind in ENTITY_KINDS and _specific(knowledge, c.id)]
    last = max((n for n, i in named if i == entity), default=None)
    return last is not None and any(n > last and i != entity and n not in past for n, i in named)


def _candidates(knowledge: Knowledge, entity: str) -> list[str]:
    """The entity, then the classes it belongs to that are specific enough to answer for it."""
    concept = knowledge.lexicon.concept(entity)
    implied = concept.implies if concept is not None else ()
    return [entity, *(c for c in implied if _specific(knowledge, c))]


def _man_is_the_scene(knowledge: Knowledge, reading: Reading) -> bool:
    """Whether breast cancer in a man is only who has it: a site is named, and no word asks about men
    or sets him beside women ("for men", "a man with", "male", "the same as for women")."""
    if not any(c.id != MEN and is_site(knowledge, c.id) for c in reading.concepts):
        return False  # (a drug named for him asks about men's treatment: "can my husband take tamoxifen?")
    return not MEN_WORDS.intersection(reading.words)


def _declares(knowledge: Knowledge, entity: str, aspect: str) -> bool:
    """Whether a unit answers ``aspect`` itself for the entity or one of its classes (not by a fallback)."""
    return any((c, aspect) in knowledge.units for c in _candidates(knowledge, entity))


def _entities(knowledge: Knowledge, reading: Reading, past: set[int]) -> list[Concept]:
    """The drugs and classes a message names, in order, each once; then the other concepts a unit is about.

    A site ("brain mets") or a biomarker ("ESR1 mutation") is the entity only when no drug is
    named: "tucatinib for brain mets" asks about tucatinib. A term that leads (vaccines, herbal
    remedies, travel) comes before the drugs: the drug is the situation, the term the question.
    """
    about = knowledge.entity_units
    seen: dict[str, Concept] = {}
    for concept in reading.concepts:
        if concept.leads and concept.id in about and concept.id not in seen:
            seen[concept.id] = concept  # "live vaccines on chemo": the vaccines' card, not chemotherapy's
    mentioned = {c.id for c in reading.concepts}
    for lead in [k for k in seen if any(t in mentioned and t not in seen for t in GIVES_WAY_TO.get(k, ()))]:
        del seen[lead]  # it gives way to a narrower term that does not lead: both then come in the message's order
    # "my dad's cancer has spread to his spine, what symptoms?": the spine is asked; his being a man is the scene
    men_scene = MEN in seen and _man_is_the_scene(knowledge, reading)
    if len(seen) > 1:
        # "warning signs of spinal cord compression": the emergency named, not warning signs in general
        # "my dad won't talk about his cancer, how do I support him?": how to support him is the question; his
        # being a man, or avoiding the subject, is the situation
        situation_last = bool(CARER_LEADS.intersection(seen))
        # "when should we call 999 instead of the chemo helpline?": when to call is asked, the numbers are the scene
        # (but "24h acute oncology line vs 111 vs 999?" names the lines only: which number is asked)
        when_to_call = WARNING_SIGNS in seen and PHONE_NUMBERS in seen and bool(WHEN_WORDS.intersection(reading.words))
        seen = {k: v for k, v in sorted(seen.items(),
                                        key=lambda item: (item[0] == PHONE_NUMBERS if when_to_call else item[0] in GENERAL_LEADS)
                                        or (situation_last and item[0] in SITUATION_LEADS)
                                        or any(t in seen for t in GIVES_WAY_TO.get(item[0], ())))}
    for n, concept in enumerate(reading.concepts):
        if concept.kind in ENTITY_KINDS and concept.id not in seen and n not in past:
            seen[concept.id] = concept
    for concept in reading.concepts:
        # "ESR1 came back positive after Kisqali": a result found after a treatment is the question;
        # "triple negative, got worse after chemo plus Keytruda": so is the subtype's next step
        if (concept.kind not in ENTITY_KINDS and past and concept.id in about and concept.id not in seen
                and not SUBTYPE_SLOTS.intersection(dict(concept.sets))):
            seen[concept.id] = concept  # (the subtype is the person's, not a result: "post-T-DXd, HR+ HER2-low, options?")
    for concept in reading.concepts:
        if concept.kind in ENTITY_KINDS and concept.id not in seen:
            seen[concept.id] = concept
    for concept in reading.concepts:
        if concept.kind not in ENTITY_KINDS and concept.id in about and concept.id not in seen:
            seen[concept.id] = concept
    found = list(seen.values())
    if men_scene:
        found = [c for c in found if c.id != MEN] + [c for c in found if c.id == MEN]
    if FIGURE_TERMS.intersection(reading.tagged) and not CALLING_WORDS.intersection(reading.words):
        # "median OS by subtype, numbers for a talk", "neutrophils or the marker: which numbers matter?": figures
        found = [c for c in found if c.id != PHONE_NUMBERS]
    if any(c.id not in BACKGROUND_TERMS for c in found):
        found = [c for c in found if c.id not in BACKGROUND_TERMS]  # "what do guidelines prefer for chemo?" asks about chemo
    if found and found[0].id in GENERAL_LEADS and any(c.kind in ENTITY_KINDS or is_site(knowledge, c.id) for c in found[1:]):
        # "brain met red-flag symptoms", "which Keytruda side effects count as an emergency": the site's or
        # the drug's own warning signs, not warning signs in general (a symptom stays with them: "when
        # does being sick become an emergency?")
        found = found[1:] + found[:1]
        if found[0].id == PHONE_NUMBERS and found[1].kind in ENTITY_KINDS:
            # "which symptoms on Enhertu mean I should ring the hotline?": the drug's signs
            found = found[1:] + found[:1]
    return found


def _specific(knowledge: Knowledge, concept_id: str) -> bool:
    """Whether a concept is specific enough to say what a question is about: not a broad class
    such as "chemotherapy" or "targeted therapy" (see BROAD_CLASS)."""
    return knowledge.lexicon.class_size.get(concept_id, 0) <= BROAD_CLASS


def _holds_before_dose(words: tuple[str, ...]) -> bool:
    """Whether the message holds a drug ("hold", "interrupt") before it asks about a dose, if it does at all."""
    hold = next((i for i, w in enumerate(words) if w in HOLDING), None)
    dose = next((i for i, w in enumerate(words) if w in DOSE_ASKED), len(words))
    return hold is not None and hold < dose


def _tested_marker(reading: Reading) -> str | None:
    """A gene result named as the object of a test ("a blood test for ESR1", "testing for PIK3CA"), as its slot entity."""
    tagged = reading.tagged
    for i, word in enumerate(tagged):
        if word.startswith("slot:mutation=") and any(w in TEST_NOUNS for w in tagged[max(0, i - 5):i]) and "for" in tagged[max(0, i - 4):i]:
            return word
    return None


def _first_line_marker(reading: Reading) -> str | None:
    """A result stated with no hormone receptor status that changes little of the first treatment: HER2-low
    or -ultralow, a BRCA change (as its slot entity). A BRCA card says what changes with or without the receptor
    status ("BRCA2 and HR+: does that change my first treatment?"); with the status, HER2-low is the first-line card's."""
    if reading.sets.get("mutation") == "brca":
        return "slot:mutation=brca"
    if "hr" in reading.sets:
        return None
    if reading.sets.get("her2") in LOW_HER2:
        return f"slot:her2={reading.sets['her2']}"
    return None


def _named_entities(knowledge: Knowledge, reading: Reading) -> set[str]:
    """The distinct drugs and narrower classes the message names."""
    return {c.id for c in reading.concepts if c.kind in ENTITY_KINDS and _specific(knowledge, c.id)}


def _names_a_drug(knowledge: Knowledge, reading: Reading) -> bool:
    """Whether the message names a drug or a class narrower than BROAD_CLASS."""
    return bool(_named_entities(knowledge, reading))


def _grew_in_organ(knowledge: Knowledge, reading: Reading, past: set[int], entities: list[str]) -> bool:
    """Whether an organ named first is only where the disease grew, every drug named being history:
    "Kisqali and letrozole worked for 3 years, now spots in the liver: what next?" asks the next line."""
    return (len(entities) > 1 and _is_organ_site(knowledge, entities[0])
            and _only_history(knowledge, reading, past, entities[1]))


def _only_history(knowledge: Knowledge, reading: Reading, past: set[int], entity: str) -> bool:
    """Whether every drug the message names is history and the entity to answer is one of them.

    A broad class names no drug in particular: "after the Faslodex, is it chemo now?" asks what comes next.
    """
    drugs = [n for n, c in enumerate(reading.concepts) if c.kind in ENTITY_KINDS and _specific(knowledge, c.id)]
    return bool(drugs) and all(n in past for n in drugs) and entity.split(":", 1)[0] in ENTITY_KINDS


#: "since starting": a symptom that began with a treatment ("constipated since starting morphine for my bone pain")
SINCE_STARTING = "term:since_starting"
#: Terms that ask for the signs of something: a closing question naming only one of them asks about
#: the condition the statements before it named.
SIGNS_OF = frozenset({"term:warning_signs"})


def _asked_lead(knowledge: Knowledge, found: list[Concept], asked: frozenset[str]) -> str | None:
    """The leading term a closing question names (and the statements before it do not), put first, when the
    question names no drug of its own, which would be its subject."""
    if not asked or not found or any(a.startswith(("drug:", "class:")) for a in asked):
        return None
    lead = next((c.id for c in found if c.id in asked and c.kind == "term" and c.leads and c.id not in FEELINGS
                 and c.id in knowledge.entity_units), None)
    if lead in SIGNS_OF and any(c.id not in asked and c.kind == "term" and c.leads and c.id in knowledge.entity_units
                                for c in found):
        return None  # "my oncologist mentioned cord compression. what are the warning signs?": the signs of that
    return lead


def _feeling_after_question(knowledge: Knowledge, reading: Reading) -> bool:
    """Whether a feeling is named only after a question about a leading concept with a card of its own
    ("why do they check my CA 15-3 every month? it went up a bit and I'm panicking")."""
    feeling = next((n for n, c in enumerate(reading.concepts) if c.id in FEELINGS), None)
    if feeling is None:
        return False
    asked_before = reading.tagged[:_concept_places(reading.tagged)[feeling]]
    asked_about = any(((c.leads and c.kind == "term") or c.kind in ENTITY_KINDS) and c.id not in FEELINGS
                      and c.id in knowledge.entity_units for c in reading.concepts[:feeling])
    return asked_about and bool(QUESTION_OPENERS.intersection(asked_before))


def _history(reading: Reading) -> set[int]:
    """The positions (among the message's concepts) of drugs named as history: "after Kisqali",
    "progressed on 1L palbo+letrozole", "Xeloda stopped working"."""
    tagged = reading.tagged
    places = _concept_places(tagged)
    past: set[int] = set()
    for n, (i, concept) in enumerate(zip(places, reading.concepts)):
        if concept.kind not in ENTITY_KINDS:
            continue
        j = i - 1
        while j >= 0 and (tagged[j] in HISTORY_LINKS or tagged[j].startswith("slot:line=")):
            named_next = tagged[j + 1] == "<class>" and not COMPARING.intersection(tagged[i + 1 : i + 2])
            if tagged[j] == "<class>" and tagged[j + 1] not in CLASS_JOINING and not named_next:
                # "after endocrine therapy, enhertu?": a class joins a combination only by a word ("chemo plus
                # keytruda") or against another class ("post AI+CDK"), unless options are compared ("post-CDK - PARPi vs ADC")
                break
            j -= 1  # back over the drugs of a combination and the line: "progressed on 1L palbo + letrozole"
        k = i + 1
        while k < len(tagged) and tagged[k] in COMBINING:
            k += 1  # forward over the rest of a combination: "kisqali and letrozole, it stopped working"
        while k < len(tagged) and tagged[k] in ALONE_BEFORE_WORK:
            k += 1  # "letrozole alone worked 3 years": how it was taken, then what it did
        worked_for = (tagged[k : k + 1] == WORKED_FOR[:1] and k + 1 < len(tagged)
                      and (tagged[k + 1] == WORKED_FOR[1] or tagged[k + 1].isdigit())
                      and not (j >= 0 and tagged[j] in ASKING_WORK))
        # ("grew on kisqali and letrozole": the growth word read as progression comes before the drugs)
        # ("came back after 2 years on tamoxifen": the relapse read as when stage 4 came puts the drug before it)
        if ((j >= 0 and (tagged[j] in PAST_WORDS or tagged[j] == PROGRESSION or tagged[j] in TIMING_SCENES))
                or PROGRESSION in tagged[k : k + 2] or worked_for):
            past.add(n)
    return past | _history_list(tagged, places, reading)


def _history_list(tagged: tuple[str, ...], places: list[int], reading: Reading) -> set[int]:
    """A list of HISTORY_LIST treatments or more after a history word is all history: "post CDK4/6, ET,
    T-DXd, SG: what's left?" (two, "after endocrine therapy, enhertu?", may name the next one)."""
    past: set[int] = set()
    run: list[int] = []  # concept positions of the current list
    for n, (i, concept) in enumerate(zip(places, reading.concepts)):
        if concept.kind not in ENTITY_KINDS:
            continue
        gap = tagged[places[run[-1]] + 1 : i] if run else ()
        if run and all(w in LIST_LINKS for w in gap):
            run.append(n)
        else:
            run = [n] if i > 0 and tagged[i - 1] in PAST_WORDS else []
        if len(run) >= HISTORY_LIST:
            past.update(run)
    return past


def _leans_back(reading: Reading) -> bool:
    """Whether a message without a drug of its own is about the last answer's drug.

    "and the side effects?" and "how is it given?" are; "common errors in stage IV
    management" is a new question, however short.
    """
    content = [w for w in reading.words if w.isalnum()]
    return (_opens_follow_up(reading) or any(w in BACK_REFERENCES for w in reading.words)
            or len(content) <= BARE_FOLLOW_UP_WORDS)


def _opens_follow_up(reading: Reading) -> bool:
    return any(reading.words[: len(o)] == o for o in FOLLOW_UP_OPENERS)
